using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;

namespace OrleansCompute.Host.Audit;

/// <summary>
/// Compares every lease and provider balance the escrow knows with the market's grains, at one block. The chain is
/// read afresh (every event since the escrow was deployed, then each lease's current state), not through the chain
/// watcher, so a watcher that missed or misread something shows up here.
/// </summary>
public sealed class MarketAudit(IGrainFactory grains, EscrowClient escrow, ChainRpc rpc, ChainOptions options)
{
    private const long BlocksPerRead = 5_000;

    public async Task<AuditReport> RunAsync(CancellationToken cancellationToken)
    {
        // A reader of its own: the watcher's reader caches what it has seen, and the audit must not trust that.
        var reader = new EscrowEventReader(rpc, options.EscrowAddress);
        var head = await reader.GetLatestBlockAsync(cancellationToken);
        // An escrow is (lease id, signer): anyone may open one under a lease's id, and only the tenant's counts for the lease.
        var opened = new Dictionary<(Guid, string), EscrowLeaseOpened>();
        var refunds = new Dictionary<(Guid, string), Credits>();
        var providers = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var from = options.DeployBlock; from <= head; from += BlocksPerRead)
        {
            foreach (var chainEvent in await reader.ReadAsync(from, Math.Min(head, from + BlocksPerRead - 1), cancellationToken))
            {
                switch (chainEvent)
                {
                    case EscrowLeaseOpened open:
                        opened.TryAdd((open.LeaseId, open.Signer.ToLowerInvariant()), open);
                        providers.Add(open.Provider);
                        break;
                    case EscrowLeaseClosed closed:
                        refunds[(closed.LeaseId, closed.Tenant.ToLowerInvariant())] = closed.Refund;
                        break;
                }
            }
        }

        var mismatches = new List<AuditMismatch>();
        var notes = new List<string>();
        foreach (var open in opened.Values)
        {
            var onChain = await escrow.GetLeaseAsync(open.LeaseId, open.Signer, cancellationToken);
            var lease = await grains.GetGrain<ILeaseGrain>(open.LeaseId).GetAsync();
            CompareLease(open, onChain, lease, refunds.GetValueOrDefault((open.LeaseId, open.Tenant.ToLowerInvariant())), mismatches, notes);
        }

        foreach (var provider in providers)
        {
            var owed = await escrow.GetProviderBalanceAsync(provider, cancellationToken);
            var account = await grains.GetGrain<IAccountGrain>(AccountKeys.Normalize(provider)).GetAsync();
            var booked = account.Earned - account.Withdrawn;
            if (booked != owed)
                mismatches.Add(new AuditMismatch(provider, "providerBalance", booked.ToString(), owed.ToString(),
                    "the market's record of what the provider earned and withdrew differs from its balance in the escrow: a settlement or withdrawal event was missed or counted twice"));
        }

        var sheet = await escrow.GetBalanceSheetAsync(cancellationToken);
        if (!sheet.Balances)
            mismatches.Add(new AuditMismatch("escrow", "conservation", (sheet.TotalEscrowed + sheet.TotalOwed + sheet.FeesAccrued).ToString(), sheet.TokenBalance.ToString(),
                "the escrow's token balance is not open escrows + balances owed + fees"));

        return new AuditReport(head, opened.Count, providers.Count, sheet.TokenBalance, sheet.TotalEscrowed, sheet.TotalOwed, sheet.FeesAccrued, mismatches, notes);
    }

    private static void CompareLease(EscrowLeaseOpened open, EscrowLease? onChain, LeaseSnapshot? lease, Credits refunded,
        List<AuditMismatch> mismatches, List<string> notes)
    {
        var id = LeaseIds.Format(open.LeaseId);
        void Add(string field, object? market, object? chain, string cause) =>
            mismatches.Add(new AuditMismatch(id, field, market?.ToString(), chain?.ToString(), cause));

        if (onChain is null)
        {
            Add("escrow", lease?.Status, "missing", "the escrow was opened but the chain no longer has it (a reorganization dropped it?)");
            return;
        }
        if (lease is null)
        {
            if (!onChain.Closed) Add("lease", "unknown", $"open, {onChain.Deposit} deposited",
                "an escrow was opened for a lease id the market never reserved; the tenant can take it back after its expiry");
            return;
        }
        if (!string.Equals(lease.Tenant, onChain.Tenant, StringComparison.OrdinalIgnoreCase))
        {
            // The market ignores escrows opened by anyone but the lease's tenant (someone copying a lease id): no money of
            // this lease is in it. It is listed, not counted as a mismatch.
            notes.Add($"{id}: an escrow by {onChain.Tenant}, not the lease's tenant {lease.Tenant}, was ignored");
            return;
        }

        if (lease.FundingTransaction is null)
            Add("funding", lease.Status, $"funded in {open.TransactionHash}", "the market never saw the escrow's LeaseOpened event (the watcher is behind or missed it)");
        if (lease.Paid != onChain.Paid)
            Add("paid", lease.Paid, onChain.Paid, lease.Paid < onChain.Paid
                ? "a settlement on chain is not in the lease (its event not seen yet)"
                : "the lease counts a payment the chain does not have (a reorganization dropped it?)");

        var closedInMarket = lease.Status is LeaseStatus.Settled or LeaseStatus.Refunded;
        if (closedInMarket != onChain.Closed)
            Add("closed", lease.Status, onChain.Closed ? "closed" : "open", onChain.Closed
                ? "the escrow is closed but the lease does not know it (its LeaseClosed event not seen yet)"
                : lease.Status == LeaseStatus.Settled
                    ? "the lease counts as settled but its escrow is still open: the final voucher never reached the chain"
                    : "the lease counts as refunded but its escrow is still open");
        if (onChain.Closed && closedInMarket && lease.Refunded != refunded)
            Add("refunded", lease.Refunded, refunded, "the refund the lease records differs from the one the escrow paid");
    }
}
