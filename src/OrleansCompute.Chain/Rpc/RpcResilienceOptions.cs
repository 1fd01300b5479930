namespace OrleansCompute.Chain.Rpc;

/// <summary>
/// Bounds for one RPC call: how long one attempt may take and how often a transient failure is retried.
/// The defaults keep a call's worst case (about 4 x 5 s plus backoff) well under an Orleans grain call timeout (30 s).
/// </summary>
public sealed record RpcResilienceOptions
{
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public int MaxRetryAttempts { get; init; } = 3;
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The circuit opens when at least half of the calls in this window failed transiently…</summary>
    public TimeSpan CircuitSamplingDuration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>…and there were at least this many of them.</summary>
    public int CircuitMinimumThroughput { get; init; } = 8;

    /// <summary>How long calls fail at once before one probes the node again.</summary>
    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(3);
}
