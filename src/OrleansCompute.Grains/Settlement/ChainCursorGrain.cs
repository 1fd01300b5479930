using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Grains.Settlement;

[GenerateSerializer, Alias("occ.chain-cursor-state")]
public sealed class ChainCursorState
{
    [Id(0)] public long? LastBlock { get; set; }
}

/// <summary>The chain watcher's progress through one escrow's events, kept with the market's state so both restart together.</summary>
public sealed class ChainCursorGrain(
    [PersistentState("chain-cursor", GrainStorage.Market)] IPersistentState<ChainCursorState> state) : Grain, IChainCursorGrain
{
    public ValueTask<long?> GetAsync() => ValueTask.FromResult(state.State.LastBlock);

    public async Task AdvanceAsync(long block)
    {
        if (state.State.LastBlock >= block) return;
        state.State.LastBlock = block;
        await state.WriteStateAsync();
    }
}
