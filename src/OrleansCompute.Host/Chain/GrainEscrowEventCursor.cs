using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain;
using OrleansCompute.Chain.Escrow;

namespace OrleansCompute.Host.Chain;

/// <summary>
/// The chain watcher's cursor and watch, kept in the escrow's <see cref="IChainCursorGrain"/> (in the SQLite store on the
/// devnet): one grain for the whole cluster, so of several hosts one reads the chain and the others stand by. A host is
/// named by its silo's address.
/// </summary>
public sealed class GrainEscrowEventCursor(IGrainFactory grains, ChainOptions options, ILocalSiloDetails silo) : IEscrowEventCursor, IEscrowWatchLease
{
    private readonly string _escrow = AccountKeys.Normalize(options.EscrowAddress);

    private IChainCursorGrain Cursor => grains.GetGrain<IChainCursorGrain>(_escrow);

    /// <summary>
    /// The watch this host was last granted, as the fence its deliveries carry; null when its last ask was refused or failed.
    /// The watcher delivers only while its last ask kept the term it read under, so this is that term.
    /// </summary>
    public WatchFence? Fence { get; private set; }

    /// <summary>This host, as the watch names it.</summary>
    public string Watcher { get; } = silo.SiloAddress.ToParsableString();

    public async Task<EscrowWatcherCheckpoint?> LoadAsync(CancellationToken cancellationToken) =>
        await Cursor.GetAsync() is { } saved ? new EscrowWatcherCheckpoint(saved.LastBlock, WatchedBlock.FromJson(saved.RecentBlocks)) : null;

    public Task SaveAsync(EscrowWatcherCheckpoint checkpoint, CancellationToken cancellationToken) =>
        Cursor.SaveAsync(new ChainCursor(checkpoint.LastBlock, WatchedBlock.ToJson(checkpoint.RecentBlocks)), Watcher);

    public async Task<EscrowWatchHold?> HoldAsync(CancellationToken cancellationToken)
    {
        Fence = null;
        if (await Cursor.HoldWatchAsync(Watcher, options.WatchLeaseTerm) is not { } watch) return null;
        Fence = new WatchFence(_escrow, Watcher, watch.Term);
        return new EscrowWatchHold(watch.Term, options.WatchLeaseTerm);
    }

    public async Task<bool> TryHoldAsync(CancellationToken cancellationToken) => await HoldAsync(cancellationToken) is not null;

    public Task ReleaseAsync(CancellationToken cancellationToken) => Cursor.StopWatchingAsync(Watcher);

    /// <summary>Who reads the chain now (this host or another), or null between two holders.</summary>
    public Task<ChainWatch?> CurrentAsync() => Cursor.GetWatchAsync().AsTask();
}
