namespace OrleansCompute.Chain.Devnet;

public sealed record AnvilOptions
{
    /// <summary>0 picks a free loopback port.</summary>
    public int Port { get; init; }

    public string Host { get; init; } = "127.0.0.1";

    public long ChainId { get; init; } = 31337;

    /// <summary>Loads the chain from this file at start (when it exists) and dumps it there on exit, so the devnet survives a restart.</summary>
    public string? StatePath { get; init; }

    /// <summary>Also dump the state every this many seconds, so a crash loses at most that much.</summary>
    public int? StateIntervalSeconds { get; init; }

    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
