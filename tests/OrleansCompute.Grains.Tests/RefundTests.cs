using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

[Collection(MarketClusterCollection.Name)]
public sealed class RefundTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    [Fact]
    public async Task Escrow_closed_on_chain_without_a_final_voucher_refunds_an_Active_lease_and_frees_its_slots()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 3);
        var tenant = Tenant.New();
        var active = await _market.ActiveLeaseAsync(tenant, TestMarket.Request(pool, slots: 2));
        var closed = new EscrowClosed(active.Deposit, TestMarket.NewTransactionHash(), 300);

        await _market.Lease(active.Id).ConfirmClosedAsync(closed);

        var lease = await _market.GetLeaseAsync(active.Id);
        Assert.Equal(LeaseStatus.Refunded, lease.Status);
        Assert.Equal(LeaseReasons.RefundedOnChain, lease.History[^1].Reason);
        Assert.Equal(active.Deposit, lease.Refunded);
        Assert.Equal(Credits.Zero, lease.Paid);
        foreach (var slotKey in active.SlotKeys)
            Assert.Equal(SlotStatus.Available, (await _market.Slot(slotKey).GetAsync()).Status);
        var snapshot = await _market.Pool(pool).GetAsync();
        Assert.Equal(3, snapshot.AvailableSlots);
        Assert.Empty(snapshot.Holders);
        await _market.AssertPoolAgreesWithSlotsAsync(pool);

        // Refunded is final: neither a repeat of the event nor the tenant can move it.
        await _market.Lease(active.Id).ConfirmClosedAsync(closed);
        Assert.Equal(lease.History.Count, (await _market.GetLeaseAsync(active.Id)).History.Count);
        await Assert.ThrowsAsync<MarketException>(() => _market.Lease(active.Id).EndAsync(tenant.Address));
    }

    [Fact]
    public async Task Escrow_of_a_failed_lease_closed_on_chain_refunds_it()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool));
        var shortEscrow = TestMarket.MatchingEscrow(reserved, tenant) with { Deposit = Credits.FromUnits(1) };
        Assert.Equal(LeaseStatus.Failed, (await _market.Lease(reserved.Id).ConfirmFundingAsync(shortEscrow))!.Status);

        await _market.Lease(reserved.Id).ConfirmClosedAsync(new EscrowClosed(Credits.FromUnits(1), TestMarket.NewTransactionHash(), 301));

        var lease = await _market.GetLeaseAsync(reserved.Id);
        Assert.Equal(LeaseStatus.Refunded, lease.Status);
        Assert.Equal(Credits.FromUnits(1), lease.Refunded);
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
    }

    [Fact]
    public async Task Ended_lease_whose_tenant_took_the_escrow_back_without_a_voucher_is_Refunded()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));

        await _market.Lease(ended.Id).ConfirmClosedAsync(new EscrowClosed(ended.Deposit, TestMarket.NewTransactionHash(), 302));

        var lease = await _market.GetLeaseAsync(ended.Id);
        Assert.Equal(LeaseStatus.Refunded, lease.Status);
        Assert.Equal(ended.Deposit, lease.Refunded);
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
    }
}
