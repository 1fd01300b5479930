using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Grains;
using OrleansCompute.Grains.Leases;
using OrleansCompute.Chain;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;

namespace OrleansCompute.Host.Audit;

/// <summary>
/// Compares every lease and provider balance the escrow knows with the market's grains, at one block, and checks the
/// escrow's books: its token balance against what it holds for tenants (open escrows plus tenant balances), owes
/// providers and keeps as fees. The chain is read afresh (every event since the escrow was deployed, then each lease's
/// current state), not through the chain watcher, so a watcher that missed or misread something shows up here. A lease
/// whose channel a later lease took is closed, and its word now holds the later one: its paid total comes from its
/// events. It also goes the other way, from the market to the chain: every lease its pools hold slots for, its settlement
/// queues hold vouchers for or its tenants list, that the market counts as funded while the chain has no escrow for it; and
/// every voucher of a settlement queue not confirmed within <see cref="MarketOptions.SettlementConfirmTimeout"/> of being
/// queued (or refused for good), against what the chain paid the lease: for a lease whose channel a later lease took, what
/// its own events paid, not what the channel's word now holds.
/// </summary>
public sealed class MarketAudit(IGrainFactory grains, LeaseDirectory directory, EscrowClient escrow, ChainRpc rpc, ChainOptions options, IOptions<MarketOptions> market, TimeProvider clock)
{
    private const long BlocksPerRead = 5_000;

    public async Task<AuditReport> RunAsync(CancellationToken cancellationToken)
    {
        // A reader of its own: the watcher's reader caches what it has seen, and the audit must not trust that.
        var reader = new EscrowEventReader(rpc, options.EscrowAddress);
        var head = await reader.GetLatestBlockAsync(cancellationToken);
        // An escrow is (lease id, signer, channel): anyone may open one under a lease's id, and only the tenant's counts for
        // the lease.
        var opened = new Dictionary<(Guid, string, uint), EscrowLeaseOpened>();
        var refunds = new Dictionary<(Guid, string), Credits>();
        var paid = new Dictionary<(Guid, string), Credits>();
        var providers = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var tenants = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var from = options.DeployBlock; from <= head; from += BlocksPerRead)
        {
            foreach (var chainEvent in await reader.ReadAsync(from, Math.Min(head, from + BlocksPerRead - 1), cancellationToken))
            {
                switch (chainEvent)
                {
                    case EscrowLeaseOpened open:
                        opened.TryAdd((open.LeaseId, open.Signer.ToLowerInvariant(), open.Channel), open);
                        providers.Add(open.Provider);
                        tenants.Add(open.Tenant);
                        break;
                    case EscrowLeaseSettled settled:
                        paid[(settled.LeaseId, settled.Tenant.ToLowerInvariant())] = settled.TotalPaid;
                        break;
                    case EscrowLeaseClosed closed:
                        refunds[(closed.LeaseId, closed.Tenant.ToLowerInvariant())] = closed.Refund;
                        break;
                }
            }
            tenants.UnionWith(await reader.ReadDepositorsAsync(from, Math.Min(head, from + BlocksPerRead - 1), cancellationToken));
        }

        var mismatches = new List<AuditMismatch>();
        var notes = new List<string>();
        var openEscrows = Credits.Zero;
        // The escrow judges expiries by the chain's clock: so does the audit.
        var chainNow = await rpc.GetLatestBlockTimeAsync(cancellationToken);
        var claimWindow = await escrow.GetClaimWindowAsync(cancellationToken);
        // Each lease as the market holds it, read once for both passes.
        var read = new Dictionary<Guid, LeaseSnapshot?>();
        // Each escrow as the chain holds it, by (lease id, signer, channel): a superseded one with its amounts from its events.
        var escrows = new Dictionary<(Guid, string, uint), EscrowLease?>();
        foreach (var open in opened.Values)
        {
            var byTenant = (open.LeaseId, open.Tenant.ToLowerInvariant());
            var onChain = await escrow.GetLeaseAsync(open.LeaseId, open.Signer, open.Channel, cancellationToken);
            if (onChain is { Superseded: true })
                onChain = onChain with { Tenant = open.Tenant, Provider = open.Provider, Paid = paid.GetValueOrDefault(byTenant) };
            escrows[(open.LeaseId, open.Signer.ToLowerInvariant(), open.Channel)] = onChain;
            if (onChain is { Closed: false }) openEscrows += onChain.Deposit - onChain.Paid;
            // Through the directory: a reservation its pool keeps is read there, without waking a lease grain to take it over.
            if (!read.TryGetValue(open.LeaseId, out var lease)) read[open.LeaseId] = lease = await directory.GetAsync(open.LeaseId);
            CompareLease(open, onChain, lease, refunds.GetValueOrDefault(byTenant), chainNow, claimWindow, mismatches, notes);
        }

        await CompareMarketSideAsync(opened.Values, escrows, providers, tenants, read, mismatches, notes, cancellationToken);

        var tenantBalances = Credits.Zero;
        foreach (var tenant in tenants) tenantBalances += await escrow.GetTenantBalanceAsync(tenant, cancellationToken);

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
            mismatches.Add(new AuditMismatch("escrow", "conservation", (sheet.TotalHeld + sheet.TotalOwed + sheet.FeesAccrued).ToString(), sheet.TokenBalance.ToString(),
                "the escrow's token balance is not held for tenants (open escrows + tenant balances) + balances owed + fees"));
        if (sheet.TotalHeld != openEscrows + tenantBalances)
            mismatches.Add(new AuditMismatch("escrow", "heldForTenants", (openEscrows + tenantBalances).ToString(), sheet.TotalHeld.ToString(),
                "the escrow's held-for-tenants total is not the sum of its open escrows and tenant balances"));

        return new AuditReport(head, opened.Count, providers.Count, sheet.TokenBalance, openEscrows, tenantBalances, sheet.TotalOwed, sheet.FeesAccrued,
            mismatches, notes);
    }

    /// <summary>
    /// What the market holds that the chain-side pass cannot reach: leases it counts as funded without an escrow on chain
    /// (no LeaseOpened event of theirs is on the chain any more), and settlement vouchers that have not reached the chain.
    /// </summary>
    /// <param name="escrows">Each escrow the chain-side pass read, a superseded one with what its own events paid.</param>
    private async Task CompareMarketSideAsync(IEnumerable<EscrowLeaseOpened> opened, Dictionary<(Guid, string, uint), EscrowLease?> escrows,
        HashSet<string> providers, HashSet<string> tenants, Dictionary<Guid, LeaseSnapshot?> read, List<AuditMismatch> mismatches, List<string> notes,
        CancellationToken cancellationToken)
    {
        var escrowed = opened.Select(o => o.LeaseId).ToHashSet();
        var leaseIds = new HashSet<Guid>();
        var queues = new HashSet<string>(providers.Select(AccountKeys.Normalize));
        foreach (var kind in AcceleratorCatalog.All)
        {
            foreach (var pool in (await grains.GetGrain<IMarketGrain>(MarketKeys.Market(kind.Kind)).GetAsync()).Pools)
            {
                queues.Add(AccountKeys.Normalize(pool.PayoutAddress));
                var snapshot = await GrainReferences.Get<IPoolGrain>(grains, pool.PoolKey).GetAsync();
                leaseIds.UnionWith(snapshot.Holders.Values);
                leaseIds.UnionWith(snapshot.Bookings.Values.SelectMany(bookings => bookings.Select(b => b.LeaseId)));
            }
        }
        foreach (var tenant in tenants) leaseIds.UnionWith((await grains.GetGrain<IAccountGrain>(AccountKeys.Normalize(tenant)).GetAsync()).Leases);

        var items = new List<SettlementItem>();
        foreach (var provider in queues) items.AddRange((await grains.GetGrain<ISettlementGrain>(provider).GetAsync()).Items);
        leaseIds.UnionWith(items.Select(i => i.Voucher.LeaseId));

        var leases = new Dictionary<Guid, LeaseSnapshot>();
        foreach (var id in leaseIds)
        {
            if ((read.TryGetValue(id, out var known) ? known : await directory.GetAsync(id)) is not { } lease) continue;
            leases[id] = lease;
            if (!escrowed.Contains(id) && lease.FundingTransaction is { } funding)
            {
                mismatches.Add(new AuditMismatch(LeaseIds.Format(id), "escrow", $"{lease.Status}, funded in {funding}", "missing",
                    $"the market counts the lease {lease.Status} on an escrow funded in {funding}, but the chain has no escrow for it (a " +
                    "reorganization deeper than the watcher remembers, Chain:MaxReorgDepth, or a chain reset removed it): " +
                    (lease.Paid > Credits.Zero ? $"the {lease.Paid} it counts as paid has no money behind it" : "no voucher of it can be paid")));
            }
        }

        var confirmBy = clock.GetUtcNow() - market.Value.SettlementConfirmTimeout;
        foreach (var item in items)
        {
            var unfinished = item.Status is SettlementItemStatus.Queued or SettlementItemStatus.Submitted && item.QueuedAt < confirmBy;
            if (!unfinished && item.Status != SettlementItemStatus.Rejected) continue;
            var lease = leases.GetValueOrDefault(item.Voucher.LeaseId);
            var onChain = lease is null ? null : await EscrowOfAsync(item.Voucher.LeaseId, lease.VoucherSigner ?? lease.Tenant, lease.Channel ?? item.Voucher.Channel);
            // Judged by the lease's own record: a lease whose channel a later lease took reads closed on chain with nothing
            // paid, and what it was paid is in its events (the chain-side pass filled it in).
            var applied = onChain is not null && onChain.Paid >= item.Voucher.Amount && (!item.Voucher.IsFinal || onChain.Closed);
            var sent = item.TransactionHash is { } hash ? $" (last sent in {hash})" : "";
            // Applied and seen by its lease, the market and the chain agree: only the queue has yet to mark it Confirmed, which
            // its next confirmation check does (after its host died, once its reminder wakes it on another). Lag, not a
            // mismatch: listed as a note.
            if (unfinished && applied && lease is not null && item.Voucher.IsSeenBy(lease.Paid, lease.Status))
            {
                notes.Add($"{LeaseIds.Format(item.Voucher.LeaseId)}: its settlement queue still reads the {Voucher(item)} {item.Status}{sent}, queued " +
                    $"{item.QueuedAt:O}; the chain paid it ({onChain!.Paid}{(onChain.Closed ? ", closed" : "")}) and its lease counts it, so only the queue's " +
                    "confirmation is behind (its next check marks it Confirmed; after its host died, once its reminder wakes it on another)");
                continue;
            }
            // A voucher refused for good is a mismatch only when the chain has not paid what it says by other means.
            if (!unfinished && (applied || onChain is null)) continue;
            var chain = onChain is null ? "no escrow" : $"paid {onChain.Paid}{(onChain.Closed ? ", closed" : ", open")}{(onChain.Superseded ? " (its channel taken by a later lease; paid from its events)" : "")}";
            var cause = (item.Status, onChain, applied) switch
            {
                (SettlementItemStatus.Rejected, _, _) =>
                    $"the {Voucher(item)} was refused for good ({item.Error}) and the chain has not paid it: the provider is short of it unless the tenant signs again",
                (_, null, _) => $"the {Voucher(item)} has waited since {item.QueuedAt:O}{sent} and the chain has no escrow it could pay from",
                (_, _, true) => $"the chain has applied the {Voucher(item)}, yet its queue still waits, since {item.QueuedAt:O}, for its lease to see the payment " +
                    "(the watcher is behind or missed the event): the lease does not count it as paid",
                _ => $"the {Voucher(item)} has waited since {item.QueuedAt:O}{sent} and the chain has not applied it: its transaction was dropped " +
                    $"(a reorganization), is stuck behind the settlement key's nonce, or was refused ({item.Error ?? "no refusal recorded"})",
            };
            mismatches.Add(new AuditMismatch(LeaseIds.Format(item.Voucher.LeaseId), "settlement", $"{item.Status}{sent}", chain, cause));
        }

        static string Voucher(SettlementItem item) => $"{(item.Voucher.IsFinal ? "final " : "")}voucher for {item.Voucher.Amount}";

        // The escrow as the chain-side pass read it; one it did not read (no LeaseOpened event of its own) is read now, and
        // one a later lease replaced without an escrow of its own ever opened there is no escrow of this lease.
        async Task<EscrowLease?> EscrowOfAsync(Guid leaseId, string signer, uint channel) =>
            escrows.TryGetValue((leaseId, signer.ToLowerInvariant(), channel), out var known) ? known
                : await escrow.GetLeaseAsync(leaseId, signer, channel, cancellationToken) is { Superseded: false } fresh ? fresh : null;
    }

    /// <param name="chainNow">The chain's time, by which the escrow judges expiries.</param>
    /// <param name="claimWindow">The escrow's claim window: after an escrow's expiry plus this, nothing settles it and anyone may refund it.</param>
    private static void CompareLease(EscrowLeaseOpened open, EscrowLease? onChain, LeaseSnapshot? lease, Credits refunded,
        DateTimeOffset chainNow, TimeSpan claimWindow, List<AuditMismatch> mismatches, List<string> notes)
    {
        var id = LeaseIds.Format(open.LeaseId);
        // Escrows that expired before this time are past their claim window: nothing settles them any more.
        var claimsClosedBefore = chainNow - claimWindow;
        void Add(string field, object? market, object? chain, string cause) =>
            mismatches.Add(new AuditMismatch(id, field, market?.ToString(), chain?.ToString(), cause));

        if (onChain is null)
        {
            Add("escrow", lease?.Status, "missing", "the escrow was opened but the chain no longer has it (a reorganization dropped it?)");
            return;
        }
        if (lease is null)
        {
            if (!onChain.Closed)
            {
                // The contract refunds once the chain's time is past the expiry plus the claim window.
                var refundableAfter = onChain.Expiry + claimWindow;
                Add("lease", "unknown", $"open, {onChain.Deposit} deposited",
                    "an escrow was opened for a lease id the market never reserved; " + (chainNow > refundableAfter
                        ? $"its tenant can take it back now (occ lease refund): its escrow expired {onChain.Expiry:O}, and the claim window of {Duration(claimWindow)} after it ended {refundableAfter:O}"
                        : $"its tenant can take it back after {refundableAfter:O} (occ lease refund): its escrow expires {onChain.Expiry:O}, then the claim window of {Duration(claimWindow)}"));
            }
            return;
        }
        if (!string.Equals(lease.Tenant, onChain.Tenant, StringComparison.OrdinalIgnoreCase))
        {
            // The market ignores escrows opened by anyone but the lease's tenant (someone copying a lease id): no money of
            // this lease is in it. It is listed, not counted as a mismatch.
            notes.Add($"{id}: an escrow by {onChain.Tenant}, not the lease's tenant {lease.Tenant}, was ignored");
            return;
        }
        if (lease.Channel is { } channel && (channel != open.Channel || !string.Equals(lease.VoucherSigner ?? lease.Tenant, open.Signer, StringComparison.OrdinalIgnoreCase)))
        {
            // The lease took the first escrow its tenant opened for it; a second one under the same id is the tenant's own
            // money, refunded to it after expiry.
            notes.Add($"{id}: a second escrow by its tenant, on channel {open.Channel} of {open.Signer}, was ignored");
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
        // A lease the market still counts as running or waiting for settlement whose escrow can no longer be settled: what
        // it owes the provider beyond what is paid is lost unless it settled, and the deposit waits for a refund.
        if (!closedInMarket && !onChain.Closed && onChain.Expiry < claimsClosedBefore)
            Add("claimWindow", lease.Status, $"expired {onChain.Expiry:O}, claim window over",
                lease.FinalVoucher is null
                    ? "the escrow's claim window is over and no final voucher reached it: no voucher can settle it now; anyone may refund the deposit (occ lease refund)"
                    : "the final voucher the market accepted never reached the chain before the claim window ended: the settlement lost it");
        if (onChain.Closed && closedInMarket && lease.Refunded != refunded)
            Add("refunded", lease.Refunded, refunded, "the refund the lease records differs from the one the escrow paid");
    }

    private static string Duration(TimeSpan span) =>
        span.TotalSeconds % 3600 == 0 ? $"{span.TotalHours:0} h" : span.TotalSeconds % 60 == 0 ? $"{span.TotalMinutes:0} min" : $"{span.TotalSeconds:0} s";
}
