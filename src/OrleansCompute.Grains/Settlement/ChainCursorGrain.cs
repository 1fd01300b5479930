using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Grains.Settlement;

[GenerateSerializer, Alias("occ.chain-cursor-state")]
public sealed class ChainCursorState
{
    [Id(0)] public long? LastBlock { get; set; }

    /// <summary>Null in a cursor saved before the watcher remembered recent blocks: nothing to roll back then.</summary>
    [Id(1)] public string? RecentBlocks { get; set; }
}

/// <summary>The chain watcher's progress through one escrow's events, kept with the market's state so both restart together.</summary>
public sealed class ChainCursorGrain(
    [PersistentState("chain-cursor", GrainStorage.Market)] IPersistentState<ChainCursorState> state) : Grain, IChainCursorGrain
{
    public ValueTask<ChainCursor?> GetAsync() =>
        ValueTask.FromResult(state.State.LastBlock is { } block ? new ChainCursor(block, state.State.RecentBlocks ?? "[]") : null);

    public async Task SaveAsync(ChainCursor cursor)
    {
        state.State.LastBlock = cursor.LastBlock;
        state.State.RecentBlocks = cursor.RecentBlocks;
        await state.WriteStateAsync();
    }
}
