using Microsoft.Extensions.Logging;
using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Grains.Settlement;

[GenerateSerializer, Alias("occ.chain-cursor-state")]
public sealed class ChainCursorState
{
    [Id(0)] public long? LastBlock { get; set; }

    /// <summary>Null in a cursor saved before the watcher remembered recent blocks: nothing to roll back then.</summary>
    [Id(1)] public string? RecentBlocks { get; set; }
}

/// <summary>
/// The chain watcher's progress through one escrow's events, kept with the market's state so both restart together, and
/// the watch: which of the cluster's hosts reads those events now. The watch lives in the activation only; a host renews
/// it at every poll, so a grain that moved is asked again within one poll interval.
/// </summary>
public sealed class ChainCursorGrain(
    [PersistentState("chain-cursor", GrainStorage.Market)] IPersistentState<ChainCursorState> state,
    TimeProvider clock,
    ILogger<ChainCursorGrain> logger) : Grain, IChainCursorGrain
{
    private ChainWatch? _watch;

    public ValueTask<ChainCursor?> GetAsync() =>
        ValueTask.FromResult(state.State.LastBlock is { } block ? new ChainCursor(block, state.State.RecentBlocks ?? "[]") : null);

    public async Task SaveAsync(ChainCursor cursor, string watcher)
    {
        if (HeldByOther(watcher))
            throw new InvalidOperationException($"{_watch!.Watcher} watches escrow {this.GetPrimaryKeyString()} now; {watcher}'s cursor is not saved.");
        state.State.LastBlock = cursor.LastBlock;
        state.State.RecentBlocks = cursor.RecentBlocks;
        await state.WriteStateAsync();
    }

    public Task<bool> TryWatchAsync(string watcher, TimeSpan term)
    {
        if (HeldByOther(watcher)) return Task.FromResult(false);
        if (_watch?.Watcher != watcher)
            logger.LogInformation("{Watcher} watches escrow {Escrow} (after {Previous})", watcher, this.GetPrimaryKeyString(), _watch?.Watcher ?? "nobody");
        _watch = new ChainWatch(watcher, clock.GetUtcNow() + term);
        return Task.FromResult(true);
    }

    public Task StopWatchingAsync(string watcher)
    {
        if (_watch?.Watcher == watcher) _watch = null;
        return Task.CompletedTask;
    }

    public ValueTask<ChainWatch?> GetWatchAsync() => ValueTask.FromResult(_watch is { } watch && watch.Until > clock.GetUtcNow() ? watch : null);

    private bool HeldByOther(string watcher) => _watch is { } watch && watch.Watcher != watcher && watch.Until > clock.GetUtcNow();
}
