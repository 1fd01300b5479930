namespace OrleansCompute.Abstractions.Settlement;

/// <summary>How far the chain watcher has delivered the escrow's events, keyed by the escrow's address; persisted.</summary>
public interface IChainCursorGrain : IGrainWithStringKey
{
    /// <summary>The cursor saved last, or null before the first.</summary>
    [ReadOnly]
    ValueTask<ChainCursor?> GetAsync();

    /// <summary>Replaces the cursor: forward after a range is delivered, back after a reorganization was rolled back.</summary>
    Task SaveAsync(ChainCursor cursor);
}

/// <summary>
/// The chain watcher's progress: every event up to and including <see cref="LastBlock"/> was delivered, and
/// <see cref="RecentBlocks"/> holds the recent blocks it read (hashes and delivered events, in the watcher's own JSON),
/// which it rolls back if a reorganization replaces them.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.chain-cursor")]
public sealed record ChainCursor(
    [property: Id(0)] long LastBlock,
    [property: Id(1)] string RecentBlocks);
