namespace OrleansCompute.Chain.Escrow;

public sealed record EscrowEventWatcherOptions
{
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The first block to read, usually the escrow's deploy block (or a block persisted by the caller).</summary>
    public long StartBlock { get; init; }

    /// <summary>Caps one eth_getLogs range, so catching up after a long stop does not ask the node for everything at once.</summary>
    public int MaxBlocksPerPoll { get; init; } = 2_000;

    /// <summary>Blocks to stay behind the head; 0 on Anvil, which does not reorganise.</summary>
    public int Confirmations { get; init; }
}
