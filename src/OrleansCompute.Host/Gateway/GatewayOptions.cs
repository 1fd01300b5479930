namespace OrleansCompute.Host.Gateway;

/// <summary>Configuration section <c>Gateway</c>: which pools send their leases' requests to a real server upstream, and how the simulated accelerator paces itself.</summary>
public sealed class GatewayOptions
{
    /// <summary>Pools whose inference is proxied to an OpenAI-compatible server; every other pool runs the simulated accelerator.</summary>
    public List<UpstreamOptions> Upstreams { get; set; } = [];

    /// <summary>
    /// How long an upstream may take to begin its answer (<c>Gateway:UpstreamTimeout</c>): a whole completion when not
    /// streamed, so long enough for the longest one the pool serves. A request that times out is not sent again: the
    /// server may still be running it.
    /// </summary>
    public TimeSpan UpstreamTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Whether the simulated accelerator takes its simulated model time (<c>Gateway:SimulatedPacing</c>): a prefill wait,
    /// then its tokens at the leased kind's speed. False answers at once with the same text and usage, for load tests of
    /// the gateway itself, whose overhead the simulated model time would otherwise drown in timer noise.
    /// </summary>
    public bool SimulatedPacing { get; set; } = true;
}

/// <summary>
/// One upstream: <c>Gateway:Upstreams:0:Pool=gpu-hub/h200-euw1</c>, <c>…:Url=http://127.0.0.1:8000/v1</c> (vLLM,
/// llama.cpp server, Ollama, …), <c>…:Model</c> (the model it serves) and optionally <c>…:ApiKey</c>, which stays in the host.
/// </summary>
public sealed class UpstreamOptions
{
    public string Pool { get; set; } = "";
    public string Url { get; set; } = "";
    public string Model { get; set; } = "";
    public string? ApiKey { get; set; }
}
