using OrleansCompute.Abstractions;
using OrleansCompute.Chain;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Host.Audit;
using OrleansCompute.Host.Chain;

namespace OrleansCompute.Host.Api;

/// <summary>
/// The chain this market settles on, read live: contracts, how far the watcher has read (and what it rolled back), which
/// host of the cluster reads the chain, the key this host settles from, and the escrow's balance sheet. The resumed-from block and the reorganizations
/// are this host's watcher's (no resumed-from block on a host that stands by); the watcher block is the cluster's.
/// </summary>
public static class ChainEndpoints
{
    public static IEndpointRouteBuilder MapChainEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/chain", GetAsync)
            .WithTags("Chain")
            .WithSummary("Chain id, contracts, the watcher's progress and the reorganizations it undid, which host reads the chain, and the escrow's balance sheet (token balance = held for tenants (open escrows + tenant balances) + balances owed + fees).");
        app.MapGet("/api/audit", (MarketAudit audit, CancellationToken ct) => audit.RunAsync(ct))
            .WithTags("Chain")
            .WithSummary("Every lease and provider balance in the grains compared with the chain, each mismatch with its cause.");
        return app;
    }

    private static async Task<ChainStatus> GetAsync(ChainOptions options, EscrowClient escrow, EscrowEventWatcher watcher, GrainEscrowEventCursor cursor,
        TransactionSender sender, CancellationToken ct)
    {
        var sheet = await escrow.GetBalanceSheetAsync(ct);
        var watch = await cursor.CurrentAsync();
        // A host that stands by reports the cluster's progress: the cursor the watching host saved.
        var watcherBlock = watcher.IsWatching
            ? watcher.LastProcessedBlock
            : (await cursor.LoadAsync(ct))?.LastBlock ?? options.DeployBlock - 1;
        return new ChainStatus(options.ChainId, options.RpcUrl, options.CreditAddress, options.EscrowAddress, options.DeployBlock,
            sheet.BlockNumber, watcherBlock, sheet.TokenBalance, sheet.TotalHeld, sheet.TotalOwed, sheet.Balances, sheet.FeesAccrued,
            ResumedFromBlockHere(watcher), watcher.Reorganizations, watcher.LastReorganization, cursor.Watcher, watch?.Watcher, watcher.IsWatching,
            sender.Address);
    }

    /// <summary>
    /// The block this host's watcher resumed from, or null on a host that stands by: it reads nothing, and its watcher's
    /// start block (or the block it resumed from before another host took the watch over) says nothing about the cluster.
    /// </summary>
    public static long? ResumedFromBlockHere(EscrowEventWatcher watcher) => watcher.IsWatching ? watcher.ResumedFromBlock : null;
}

public sealed record ChainStatus(
    long ChainId,
    string RpcUrl,
    string CreditAddress,
    string EscrowAddress,
    long DeployBlock,
    long LatestBlock,
    long WatcherBlock,
    Credits EscrowTokenBalance,
    Credits HeldForTenants,
    Credits OwedToProviders,
    bool Conserved,
    Credits FeesAccrued,
    long? WatcherResumedFromBlock,
    int WatcherReorganizations,
    ChainReorganization? LastReorganization,
    string Host,
    string? WatchedBy,
    bool WatchingHere,
    string SettlesFrom);
