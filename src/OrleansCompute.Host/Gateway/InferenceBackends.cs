using Microsoft.Extensions.Options;

namespace OrleansCompute.Host.Gateway;

/// <summary>Which backend answers a pool's leases: its configured upstream, or the simulated accelerator.</summary>
public sealed class InferenceBackends
{
    private readonly Dictionary<string, IInferenceBackend> _upstreams;
    private readonly SimulatedAccelerator _simulated;

    public InferenceBackends(IOptions<GatewayOptions> options, IHttpClientFactory clients, TokenCounter tokens, SimulatedAccelerator simulated)
    {
        _simulated = simulated;
        _upstreams = options.Value.Upstreams.ToDictionary(
            u => Validated(u).Pool,
            u => (IInferenceBackend)new UpstreamBackend(u, clients.CreateClient(UpstreamBackend.HttpClientName), tokens),
            StringComparer.Ordinal);
    }

    public IInferenceBackend For(string? poolKey) =>
        poolKey is not null && _upstreams.TryGetValue(poolKey, out var upstream) ? upstream : _simulated;

    private static UpstreamOptions Validated(UpstreamOptions upstream)
    {
        if (string.IsNullOrWhiteSpace(upstream.Pool) || string.IsNullOrWhiteSpace(upstream.Model)
            || !Uri.TryCreate(upstream.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            throw new InvalidOperationException(
                $"Gateway:Upstreams entries need Pool (provider/pool), Model and an http(s) Url; got Pool='{upstream.Pool}', Url='{upstream.Url}', Model='{upstream.Model}'.");
        return upstream;
    }
}
