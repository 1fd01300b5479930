using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>A provider takes a slot back: its leases get notice, then move to a free slot or end billed pro rata.</summary>
[Collection(MarketClusterCollection.Name)]
public sealed class DrainTests(ClusterFixture cluster)
{
    private static readonly TimeSpan Notice = TimeSpan.FromMilliseconds(300);
    private readonly TestMarket _market = new(cluster.Grains);

    private async Task<LeaseSnapshot> WaitForAsync(Guid leaseId, Func<LeaseSnapshot, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var lease = (await _market.Lease(leaseId).GetAsync())!;
            if (done(lease)) return lease;
            Assert.True(DateTime.UtcNow < deadline, $"lease still {lease.Status}: {lease.History[^1].Reason}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_lease_on_a_drained_slot_moves_to_a_free_slot_and_the_drained_slot_is_never_booked_again()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 3);
        var tenant = Tenant.New();
        var lease = await _market.FundAsync(await _market.RequestAsync(tenant, TestMarket.Request(pool)), tenant);
        var (_, index) = MarketKeys.ParseSlot(lease.SlotKeys.Single());

        var affected = await _market.Pool(pool).DrainSlotAsync(index, Notice);

        Assert.Equal([lease.Id], affected);
        var moved = await WaitForAsync(lease.Id, l => l.History[^1].Reason == LeaseReasons.MovedToSlot);
        Assert.Equal(LeaseStatus.Active, moved.Status);
        Assert.NotEqual(lease.SlotKeys.Single(), moved.SlotKeys.Single());
        Assert.Equal(SlotStatus.Leased, (await _market.Slot(moved.SlotKeys.Single()).GetAsync()).Status);
        var drained = await _market.Slot(lease.SlotKeys.Single()).GetAsync();
        Assert.Empty(drained.Calendar);
        Assert.True(drained.Draining, "the slot itself says it is draining");
        Assert.Equal((SlotStatus.OutOfService, null), (drained.Status, drained.LeaseId));
        Assert.False((await _market.Slot(moved.SlotKeys.Single()).GetAsync()).Draining);

        var next = await _market.RequestAsync(Tenant.New(), TestMarket.Request(pool));
        Assert.DoesNotContain(lease.SlotKeys.Single(), next.SlotKeys);
        await Assert.ThrowsAsync<MarketException>(() => _market.RequestAsync(Tenant.New(), TestMarket.Request(pool)));
    }

    [Fact]
    public async Task With_no_free_slot_an_active_lease_ends_billed_for_the_time_used()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var lease = await _market.FundAsync(await _market.RequestAsync(tenant, TestMarket.Request(pool, hours: 4)), tenant);

        await _market.Pool(pool).DrainSlotAsync(0, Notice);
        var ended = await WaitForAsync(lease.Id, l => l.Status != LeaseStatus.Active);

        Assert.Equal((LeaseStatus.Ended, LeaseReasons.ProviderReclaimed), (ended.Status, ended.History[^1].Reason));
        Assert.True(ended.AmountOwed > Credits.Zero && ended.AmountOwed < lease.Deposit);
        Assert.NotNull(ended.VoucherToSign);
        Assert.Empty((await _market.Pool(pool).GetAsync()).Bookings);
    }

    [Fact]
    public async Task With_no_free_slot_an_unfunded_reservation_is_cancelled()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var reserved = await _market.RequestAsync(Tenant.New(), TestMarket.Request(pool));

        // No notice: the reservation's own hold (the cluster's funding window) must not run out first.
        await _market.Pool(pool).DrainSlotAsync(0, TimeSpan.Zero);
        var cancelled = await WaitForAsync(reserved.Id, l => l.Status != LeaseStatus.Reserved);

        Assert.Equal((LeaseStatus.Cancelled, LeaseReasons.ProviderReclaimed), (cancelled.Status, cancelled.History[^1].Reason));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(5)]
    public async Task Draining_a_slot_the_pool_does_not_have_is_refused_as_not_found(int index)
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Pool(pool).DrainSlotAsync(index, Notice));

        Assert.Equal((MarketError.NotFound, "UnknownSlot", "index"), (refused.Error, refused.Reason, refused.Field));
        Assert.Empty((await _market.Pool(pool).GetAsync()).Draining);
    }

    [Theory]
    [InlineData(-5)]
    [InlineData(7 * 24 * 60 + 1)]
    public async Task A_notice_out_of_range_is_refused_naming_the_field_in_the_minutes_providers_send(int minutes)
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Pool(pool).DrainSlotAsync(0, TimeSpan.FromMinutes(minutes)));

        Assert.Equal(("noticeMinutes", "OutOfRange"), (refused.Field, refused.Reason));
        Assert.Contains("0 to 10080 minutes", refused.Message);
        Assert.Empty((await _market.Pool(pool).GetAsync()).Draining);
    }
}
