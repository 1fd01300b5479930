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
    private IChainCursorGrain Cursor => grains.GetGrain<IChainCursorGrain>(AccountKeys.Normalize(options.EscrowAddress));

    /// <summary>This host, as the watch names it.</summary>
    public string Watcher { get; } = silo.SiloAddress.ToParsableString();

    public async Task<EscrowWatcherCheckpoint?> LoadAsync(CancellationToken cancellationToken) =>
        await Cursor.GetAsync() is { } saved ? new EscrowWatcherCheckpoint(saved.LastBlock, WatchedBlock.FromJson(saved.RecentBlocks)) : null;

    public Task SaveAsync(EscrowWatcherCheckpoint checkpoint, CancellationToken cancellationToken) =>
        Cursor.SaveAsync(new ChainCursor(checkpoint.LastBlock, WatchedBlock.ToJson(checkpoint.RecentBlocks)), Watcher);

    public async Task<EscrowWatchHold?> HoldAsync(CancellationToken cancellationToken) =>
        await Cursor.HoldWatchAsync(Watcher, options.WatchLeaseTerm) is { } watch ? new EscrowWatchHold(watch.Term, options.WatchLeaseTerm) : null;

    public async Task<bool> TryHoldAsync(CancellationToken cancellationToken) => await HoldAsync(cancellationToken) is not null;

    public Task ReleaseAsync(CancellationToken cancellationToken) => Cursor.StopWatchingAsync(Watcher);

    /// <summary>Who reads the chain now (this host or another), or null between two holders.</summary>
    public Task<ChainWatch?> CurrentAsync() => Cursor.GetWatchAsync().AsTask();
}
