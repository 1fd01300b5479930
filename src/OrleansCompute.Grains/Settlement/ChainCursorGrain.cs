using Microsoft.Extensions.Logging;
using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Grains.Settlement;

[GenerateSerializer, Alias("occ.chain-cursor-state")]
public sealed class ChainCursorState
{
    [Id(0)] public long? LastBlock { get; set; }

    /// <summary>Null in a cursor saved before the watcher remembered recent blocks: nothing to roll back then.</summary>
    [Id(1)] public string? RecentBlocks { get; set; }

    /// <summary>The number of the watch's last term: persisted, so a term granted after the grain moved is above every earlier one.</summary>
    [Id(2)] public long WatchTerm { get; set; }
}

/// <summary>
/// The chain watcher's progress through one escrow's events, kept with the market's state so both restart together, and
/// the watch: which of the cluster's hosts reads those events now. The watch lives in the activation only; a host renews
/// it before every range it reads, so a grain that moved is asked again within one poll interval. Its term number is
/// persisted: each time the watch passes to a watcher (or is first granted by an activation) it is a new term.
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
        if (CurrentWatch is not { } watch || watch.Watcher != watcher)
        {
            throw new InvalidOperationException(
                $"{CurrentWatch?.Watcher ?? "Nobody"} watches escrow {this.GetPrimaryKeyString()} now; {watcher}'s cursor is not saved.");
        }
        state.State.LastBlock = cursor.LastBlock;
        state.State.RecentBlocks = cursor.RecentBlocks;
        await state.WriteStateAsync();
    }

    public async Task<ChainWatch?> HoldWatchAsync(string watcher, TimeSpan term)
    {
        if (HeldByOther(watcher)) return null;
        // A watcher renewing, or taking back a watch that lapsed with nobody after it, goes on in its term.
        var watchTerm = _watch is { } held && held.Watcher == watcher ? held.Term : await NextTermAsync(watcher);
        _watch = new ChainWatch(watcher, clock.GetUtcNow() + term, watchTerm);
        return _watch;
    }

    public async Task<bool> TryWatchAsync(string watcher, TimeSpan term) => await HoldWatchAsync(watcher, term) is not null;

    public Task StopWatchingAsync(string watcher)
    {
        if (_watch?.Watcher == watcher) _watch = null;
        return Task.CompletedTask;
    }

    public ValueTask<ChainWatch?> GetWatchAsync() => ValueTask.FromResult(CurrentWatch);

    private ChainWatch? CurrentWatch => _watch is { } watch && watch.Until > clock.GetUtcNow() ? watch : null;

    private async Task<long> NextTermAsync(string watcher)
    {
        // Written before it is granted: a term number is never handed out twice, across activations too.
        state.State.WatchTerm++;
        await state.WriteStateAsync();
        logger.LogInformation("{Watcher} watches escrow {Escrow} in term {Term} (after {Previous})",
            watcher, this.GetPrimaryKeyString(), state.State.WatchTerm, _watch?.Watcher ?? "nobody");
        return state.State.WatchTerm;
    }

    private bool HeldByOther(string watcher) => _watch is { } watch && watch.Watcher != watcher && watch.Until > clock.GetUtcNow();
}
