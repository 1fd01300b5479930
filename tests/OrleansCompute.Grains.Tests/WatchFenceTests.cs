using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>
/// Chain events carry the watch term of the host that delivers them, and the grains refuse one whose term has passed: a host
/// that stalled past its term must not deliver after the host that took the watch over, above all not a rollback.
/// </summary>
[Collection(MarketClusterCollection.Name)]
public sealed class WatchFenceTests(ClusterFixture cluster)
{
    private static readonly TimeSpan Term = TimeSpan.FromSeconds(1);
    private readonly TestMarket _market = new(cluster.Grains);

    [Fact]
    public async Task A_rollback_from_a_host_whose_watch_term_passed_is_refused_after_the_next_holder_delivered_the_same_events_again()
    {
        var escrow = "0x" + Guid.NewGuid().ToString("N")[..20];
        var cursor = cluster.Grains.GetGrain<IChainCursorGrain>(escrow);
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();

        // Held for long while it delivers, so that its deliveries are in its term however slow the machine; the lease is
        // reserved just before its escrow is delivered, inside its funding window.
        var stale = new WatchFence(escrow, "host-a", (await cursor.HoldWatchAsync("host-a", Term * 60))!.Term);
        var requested = await _market.RequestAsync(tenant, TestMarket.Request(pool));
        var funded = TestMarket.MatchingEscrow(requested, tenant);
        var payment = new EscrowSettled(pool.PayoutAddress, Credits.FromCredits(1m), Credits.FromCredits(1m), TestMarket.NewTransactionHash(), 101);
        var lease = _market.Lease(requested.Id);
        using (stale.Enter())
        {
            await lease.ConfirmFundingAsync(funded);
            await lease.ConfirmSettledAsync(payment);
        }

        // host-a renews for a short term, its last, and stalls past it; host-b takes the watch, finds the blocks replaced,
        // rolls them back and delivers the same transactions mined again in the blocks that replaced them.
        Assert.Equal(stale.Term, (await cursor.HoldWatchAsync("host-a", Term))!.Term);
        await Task.Delay(Term + TimeSpan.FromMilliseconds(300));
        var current = new WatchFence(escrow, "host-b", (await cursor.HoldWatchAsync("host-b", Term * 10))!.Term);
        using (current.Enter())
        {
            await lease.RollBackSettledAsync(payment);
            await lease.RollBackFundingAsync(funded);
            await lease.ConfirmFundingAsync(funded with { BlockNumber = 102 });
            await lease.ConfirmSettledAsync(payment with { BlockNumber = 102 });
        }

        // host-a wakes and hands back what it read before it stalled.
        using (stale.Enter())
        {
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => lease.RollBackSettledAsync(payment));
            Assert.Contains($"term {stale.Term}", refused.Message);
            await Assert.ThrowsAsync<InvalidOperationException>(() => lease.RollBackFundingAsync(funded));
            await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.Grains.GetGrain<IAccountGrain>(pool.PayoutAddress.ToLowerInvariant())
                .RollBackWithdrawalAsync(Credits.FromCredits(1m), payment.TransactionHash));
        }

        var after = await _market.GetLeaseAsync(requested.Id);
        Assert.Equal((LeaseStatus.Active, Credits.FromCredits(1m), funded.TransactionHash), (after.Status, after.Paid, after.FundingTransaction));
        Assert.Equal(Credits.FromCredits(1m), (await cluster.Grains.GetGrain<IAccountGrain>(pool.PayoutAddress.ToLowerInvariant()).GetAsync()).Earned);
    }
}
