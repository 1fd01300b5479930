using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain;
using OrleansCompute.Chain.Escrow;

namespace OrleansCompute.Host.Chain;

/// <summary>The chain watcher's cursor, kept in the escrow's <see cref="IChainCursorGrain"/> (in the SQLite store on the devnet).</summary>
public sealed class GrainEscrowEventCursor(IGrainFactory grains, ChainOptions options) : IEscrowEventCursor
{
    private IChainCursorGrain Cursor => grains.GetGrain<IChainCursorGrain>(AccountKeys.Normalize(options.EscrowAddress));

    public async Task<EscrowWatcherCheckpoint?> LoadAsync(CancellationToken cancellationToken) =>
        await Cursor.GetAsync() is { } saved ? new EscrowWatcherCheckpoint(saved.LastBlock, WatchedBlock.FromJson(saved.RecentBlocks)) : null;

    public Task SaveAsync(EscrowWatcherCheckpoint checkpoint, CancellationToken cancellationToken) =>
        Cursor.SaveAsync(new ChainCursor(checkpoint.LastBlock, WatchedBlock.ToJson(checkpoint.RecentBlocks)));
}
