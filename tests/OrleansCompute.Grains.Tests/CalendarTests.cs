using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>Slot calendars: blocks booked ahead, never two bookings of a slot at the same time.</summary>
[Collection(MarketClusterCollection.Name)]
public sealed class CalendarTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    private static DateTimeOffset HoursFromNow(double hours) => DateTimeOffset.UtcNow.AddHours(hours);

    [Fact]
    public async Task Blocks_that_do_not_overlap_share_a_slot_and_one_that_overlaps_is_refused_with_the_nearest_start()
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 1);
        var first = await _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 2, region, Start: HoursFromNow(2)));
        var after = await _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, region, Start: first.BookedWindow!.Value.End));
        var now = await _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, region));

        var overlapping = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 2, region, Start: HoursFromNow(3))));

        Assert.Equal("NoCapacityInWindow", overlapping.Reason);
        Assert.Contains("nearest start with room", overlapping.Message);
        var slot = await _market.Grains.GetGrain<ISlotGrain>(MarketKeys.Slot(pool.PoolKey, 0)).GetAsync();
        Assert.Equal([now.Id, first.Id, after.Id], slot.Calendar.Select(b => b.LeaseId));
        Assert.All(slot.Calendar.Zip(slot.Calendar.Skip(1)), pair => Assert.False(pair.First.Window.Overlaps(pair.Second.Window)));
    }

    [Fact]
    public async Task A_funded_block_waits_for_its_start_and_holds_its_window_and_a_future_block_leaves_the_slot_free_now()
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 1);
        var tenant = Tenant.New();
        var block = await _market.RequestAsync(tenant, new LeaseRequest("h100", 1, 3, region, Start: HoursFromNow(5)));

        Assert.Equal(LeaseStatus.Reserved, block.Status);
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
        Assert.True(block.EscrowExpiry > block.StartsAt!.Value.AddHours(3));

        var funded = (await _market.Lease(block.Id).ConfirmFundingAsync(TestMarket.MatchingEscrow(block, tenant)))!;

        Assert.Equal(LeaseStatus.Funded, funded.Status);
        Assert.Equal(LeaseReasons.AwaitingStart, funded.History[^1].Reason);
        Assert.Equal(block.StartsAt!.Value.AddHours(3), funded.EndsAt);
        var slot = await _market.Grains.GetGrain<ISlotGrain>(MarketKeys.Slot(pool.PoolKey, 0)).GetAsync();
        Assert.Equal(SlotStatus.Available, slot.Status);
        Assert.Null(Assert.Single(slot.Calendar).HoldUntil);
    }

    [Fact]
    public async Task Ending_a_funded_block_before_it_starts_owes_nothing_and_frees_its_window()
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 1);
        var tenant = Tenant.New();
        var block = await _market.RequestAsync(tenant, new LeaseRequest("h100", 1, 1, region, Start: HoursFromNow(2)));
        await _market.Lease(block.Id).ConfirmFundingAsync(TestMarket.MatchingEscrow(block, tenant));

        var ended = await _market.Lease(block.Id).EndAsync(tenant.Address);

        Assert.Equal(LeaseStatus.Ended, ended.Status);
        Assert.Equal(Credits.Zero, ended.AmountOwed);
        Assert.Empty((await _market.Pool(pool).GetAsync()).Bookings);
    }

    [Theory]
    [InlineData(-2.0, "StartInPast")]
    [InlineData(24.0 * 365, "StartTooFarAhead")]
    public async Task A_window_in_the_past_or_too_far_ahead_is_refused_naming_start(double hoursFromNow, string reason)
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 1);

        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, region, Start: HoursFromNow(hoursFromNow))));

        Assert.Equal(("start", reason), (refused.Field, refused.Reason));
        Assert.Empty((await _market.Pool(pool).GetAsync()).Bookings);
    }
}
