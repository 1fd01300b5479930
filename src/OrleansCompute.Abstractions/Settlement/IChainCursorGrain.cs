namespace OrleansCompute.Abstractions.Settlement;

/// <summary>
/// How far the chain watcher has delivered the escrow's events, keyed by the escrow's address; persisted. It also says
/// which host watches: every host of a cluster runs a watcher, and one at a time holds the watch, so the escrow's events
/// reach the grains from one reader and one cursor moves.
/// </summary>
public interface IChainCursorGrain : IGrainWithStringKey
{
    /// <summary>The cursor saved last, or null before the first.</summary>
    [ReadOnly]
    ValueTask<ChainCursor?> GetAsync();

    /// <summary>
    /// Replaces the cursor: forward after a range is delivered, back after a reorganization was rolled back. Refused
    /// (<see cref="InvalidOperationException"/>) unless <paramref name="watcher"/> holds the watch, unexpired: a host that
    /// lost it must not move the cursor of the one that took over, nor one that lapsed, which another may take any moment.
    /// </summary>
    Task SaveAsync(ChainCursor cursor, string watcher);

    /// <summary>
    /// Takes the watch for <paramref name="watcher"/>, or renews it, for <paramref name="term"/>; null while another
    /// watcher holds an unexpired watch. The watch is not persisted, its term numbers are: after the grain moves, the first
    /// to ask takes it, in a term numbered above every earlier one.
    /// </summary>
    Task<ChainWatch?> HoldWatchAsync(string watcher, TimeSpan term);

    /// <summary><see cref="HoldWatchAsync"/> for a caller that needs only whether it holds the watch.</summary>
    Task<bool> TryWatchAsync(string watcher, TimeSpan term);

    /// <summary>Gives the watch up (its host is stopping) so another takes over at its next poll rather than after the term.</summary>
    Task StopWatchingAsync(string watcher);

    /// <summary>Who holds the watch and until when, or null when nobody does.</summary>
    [ReadOnly]
    ValueTask<ChainWatch?> GetWatchAsync();
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

/// <summary>
/// The host (its silo's address) that reads the escrow's events, and until when unless it renews. <see cref="Term"/> numbers
/// the watch's holders one after another (a fencing token): it grows each time the watch passes to a watcher, so a host
/// that finds a term other than the one it read under knows another host may have read since.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.chain-watch")]
public sealed record ChainWatch(
    [property: Id(0)] string Watcher,
    [property: Id(1)] DateTimeOffset Until,
    [property: Id(2)] long Term);
