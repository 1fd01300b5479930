namespace OrleansCompute.Abstractions.Settlement;

/// <summary>How far the chain watcher has delivered the escrow's events, keyed by the escrow's address; persisted.</summary>
public interface IChainCursorGrain : IGrainWithStringKey
{
    /// <summary>The last block whose events were all delivered, or null before the first.</summary>
    [ReadOnly]
    ValueTask<long?> GetAsync();

    /// <summary>Moves the cursor forward to <paramref name="block"/>; never backward.</summary>
    Task AdvanceAsync(long block);
}
