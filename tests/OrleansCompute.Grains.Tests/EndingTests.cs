using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

[Collection(MarketClusterCollection.Name)]
public sealed class EndingTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    [Fact]
    public async Task Tenant_ending_an_Active_lease_owes_the_minimum_billed_and_frees_the_slots()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 3, pricePerSlotHour: 2.40m);
        var tenant = Tenant.New();
        var active = await _market.ActiveLeaseAsync(tenant, TestMarket.Request(pool, slots: 2, hours: 2));

        var lease = await _market.Lease(active.Id).EndAsync(tenant.Address);

        // 2.40 per slot-hour × 2 slots × the 60 s minimum = 0.08.
        var minimum = Credits.FromCredits(0.08m);
        Assert.Equal(LeaseStatus.Ended, lease.Status);
        Assert.Equal(LeaseReasons.EndedByTenant, lease.History[^1].Reason);
        Assert.Equal(minimum, lease.AmountOwed);
        Assert.NotNull(lease.EndedAt);
        Assert.Equal(new VoucherRequest(active.Id, active.ChainLeaseId, minimum, IsFinal: true), lease.VoucherToSign);
        Assert.Equal(Credits.FromCredits(2.40m * 2 * 2), lease.Deposit);

        foreach (var slotKey in active.SlotKeys)
            Assert.Equal(SlotStatus.Available, (await _market.Slot(slotKey).GetAsync()).Status);
        var snapshot = await _market.Pool(pool).GetAsync();
        Assert.Equal(3, snapshot.AvailableSlots);
        Assert.Empty(snapshot.Holders);
        await _market.AssertPoolAgreesWithSlotsAsync(pool);
    }

    [Fact]
    public async Task Ending_an_Ended_lease_again_changes_nothing()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));

        var again = await _market.Lease(ended.Id).EndAsync(tenant.Address);

        Assert.Equal(LeaseStatus.Ended, again.Status);
        Assert.Equal(ended.History.Count, again.History.Count);
        Assert.Equal(ended.AmountOwed, again.AmountOwed);
        Assert.Equal(ended.EndedAt, again.EndedAt);
    }

    [Fact]
    public async Task Tenant_ending_a_Reserved_lease_cancels_it_and_frees_the_slots()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool, slots: 2));

        var lease = await _market.Lease(reserved.Id).EndAsync(tenant.Address);

        Assert.Equal(LeaseStatus.Cancelled, lease.Status);
        Assert.Equal(LeaseReasons.CancelledByTenant, lease.History[^1].Reason);
        Assert.Equal(Credits.Zero, lease.AmountOwed);
        Assert.Null(lease.VoucherToSign);
        var snapshot = await _market.Pool(pool).GetAsync();
        Assert.Equal(2, snapshot.AvailableSlots);
        await _market.AssertPoolAgreesWithSlotsAsync(pool);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Another_tenant_cannot_end_the_lease_and_nothing_changes(bool funded)
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var request = TestMarket.Request(pool, slots: 2);
        var before = funded ? await _market.ActiveLeaseAsync(tenant, request) : await _market.RequestAsync(tenant, request);

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Lease(before.Id).EndAsync(Tenant.New().Address));

        Assert.Equal(MarketError.NotYourLease, refused.Error);
        var after = await _market.GetLeaseAsync(before.Id);
        Assert.Equal(before.Status, after.Status);
        Assert.Equal(before.History.Count, after.History.Count);
        Assert.Null(after.EndedAt);
        var snapshot = await _market.Pool(pool).GetAsync();
        Assert.Equal(0, snapshot.AvailableSlots);
        Assert.All(snapshot.Holders.Values, holder => Assert.Equal(before.Id, holder));
        foreach (var slotKey in before.SlotKeys)
            Assert.Equal(funded ? SlotStatus.Leased : SlotStatus.Reserved, (await _market.Slot(slotKey).GetAsync()).Status);
    }
}
