using OrleansCompute.Abstractions;
using OrleansCompute.Chain;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Host.Audit;

namespace OrleansCompute.Host.Api;

/// <summary>The chain this market settles on, read live: contracts, how far the watcher has read (and what it rolled back), and the escrow's balance sheet.</summary>
public static class ChainEndpoints
{
    public static IEndpointRouteBuilder MapChainEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/chain", GetAsync)
            .WithTags("Chain")
            .WithSummary("Chain id, contracts, the watcher's progress and the reorganizations it undid, and the escrow's balance sheet (token balance = held for tenants (open escrows + tenant balances) + balances owed + fees).");
        app.MapGet("/api/audit", (MarketAudit audit, CancellationToken ct) => audit.RunAsync(ct))
            .WithTags("Chain")
            .WithSummary("Every lease and provider balance in the grains compared with the chain, each mismatch with its cause.");
        return app;
    }

    private static async Task<ChainStatus> GetAsync(ChainOptions options, EscrowClient escrow, EscrowEventWatcher watcher, CancellationToken ct)
    {
        var sheet = await escrow.GetBalanceSheetAsync(ct);
        return new ChainStatus(options.ChainId, options.RpcUrl, options.CreditAddress, options.EscrowAddress, options.DeployBlock,
            sheet.BlockNumber, watcher.LastProcessedBlock, sheet.TokenBalance, sheet.TotalHeld, sheet.TotalOwed, sheet.Balances, sheet.FeesAccrued,
            watcher.ResumedFromBlock, watcher.Reorganizations, watcher.LastReorganization);
    }
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
    long WatcherResumedFromBlock,
    int WatcherReorganizations,
    ChainReorganization? LastReorganization);
