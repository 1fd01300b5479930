namespace OrleansCompute.Chain.Escrow;

public sealed record EscrowEventWatcherOptions
{
    /// <summary>The host's default (<c>Chain:EventPollInterval</c>).</summary>
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMilliseconds(200);

    public TimeSpan PollInterval { get; init; } = DefaultPollInterval;

    /// <summary>The first block to read, usually the escrow's deploy block (or a block persisted by the caller).</summary>
    public long StartBlock { get; init; }

    /// <summary>Caps one eth_getLogs range, so catching up after a long stop does not ask the node for everything at once.</summary>
    public int MaxBlocksPerPoll { get; init; } = 2_000;

    /// <summary>
    /// Blocks to stay behind the head, so a reorganization shallower than this never reaches the sink; 0 on the devnet's
    /// Anvil, which reorganizes only when asked to.
    /// </summary>
    public int Confirmations { get; init; }

    /// <summary>
    /// How many blocks behind its cursor the watcher remembers (hashes and delivered events), so how deep a reorganization
    /// past <see cref="Confirmations"/> it can undo. 64 blocks is two epochs, after which Ethereum blocks are final.
    /// </summary>
    public int MaxReorgDepth { get; init; } = 64;
}
