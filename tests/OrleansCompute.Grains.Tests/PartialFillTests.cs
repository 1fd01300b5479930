using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>Multi-slot requests fill all or nothing, unless they ask for a partial fill with a minimum.</summary>
[Collection(MarketClusterCollection.Name)]
public sealed class PartialFillTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    [Fact]
    public async Task Without_a_minimum_a_request_no_pool_can_fill_whole_takes_nothing()
    {
        var region = TestMarket.NewRegion();
        var first = await _market.DefinePoolAsync(region, slots: 4);
        var second = await _market.DefinePoolAsync(region, slots: 4);
        await HoldAsync(first, 2);
        await HoldAsync(second, 2);

        // Four slots are free in all, but no one pool has three.
        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 3, 1, region)));

        Assert.Equal(("slots", "NoCapacityInWindow"), (refused.Field, refused.Reason));
        Assert.Equal(2, (await _market.Pool(first).GetAsync()).AvailableSlots);
        Assert.Equal(2, (await _market.Pool(second).GetAsync()).AvailableSlots);
    }

    [Fact]
    public async Task A_partial_fill_takes_what_the_roomiest_pool_has_and_bills_only_those_slots()
    {
        var region = TestMarket.NewRegion();
        var cheap = await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 2.00m);
        var roomy = await _market.DefinePoolAsync(region, slots: 5, pricePerSlotHour: 3.00m);
        await HoldAsync(roomy, 2);

        var lease = await _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 6, 2, region, MinSlots: 2));

        Assert.Equal(roomy.PoolKey, lease.PoolKey);
        Assert.Equal(3, lease.Request.Slots);
        Assert.Equal(3, lease.SlotKeys.Count);
        Assert.Equal(LeaseBilling.Deposit(Credits.FromCredits(3.00m), 3, 2), lease.Deposit);
        var reserved = lease.History[^1];
        Assert.Equal((LeaseStatus.Reserved, LeaseReasons.PartialFill), (reserved.Status, reserved.Reason));
        Assert.StartsWith("3 of 6 slot(s)", reserved.Detail);
        Assert.Equal(2, (await _market.Pool(cheap).GetAsync()).AvailableSlots);
    }

    [Fact]
    public async Task A_pool_that_has_every_slot_asked_for_fills_the_request_whole_even_when_partial_fills_are_allowed()
    {
        var region = TestMarket.NewRegion();
        await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 2.00m);
        var whole = await _market.DefinePoolAsync(region, slots: 4, pricePerSlotHour: 3.00m);

        var lease = await _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 4, 1, region, MinSlots: 1));

        Assert.Equal((whole.PoolKey, 4), (lease.PoolKey, lease.Request.Slots));
        Assert.Equal(LeaseReasons.SlotsReserved, lease.History[^1].Reason);
    }

    [Fact]
    public async Task Below_its_minimum_a_partial_request_is_refused_and_takes_nothing()
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 4);
        await HoldAsync(pool, 3);

        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 4, 1, region, MinSlots: 2)));

        Assert.Equal("NoCapacityInWindow", refused.Reason);
        Assert.Contains("2 to 4 free slot(s)", refused.Message);
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
    }

    public static TheoryData<LeaseRequest, string, string> BadMinimums => new()
    {
        { new LeaseRequest("h100", 2, 1, MinSlots: 0), "minSlots", "OutOfRange" },
        { new LeaseRequest("h100", 2, 1, MinSlots: 3), "minSlots", "OutOfRange" },
        { new LeaseRequest("h100", 2, 1, MinSlots: 1, QuoteId: $"{Guid.NewGuid():N}@p-x/pool"), "minSlots", "ContradictoryConstraints" },
    };

    [Theory]
    [MemberData(nameof(BadMinimums))]
    public async Task A_minimum_outside_one_to_the_slots_asked_or_beside_a_quote_is_refused_naming_it(LeaseRequest request, string field, string reason)
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 2);

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.RequestAsync(Tenant.New(), request with { Region = region }));

        Assert.Equal((MarketError.InvalidRequest, field, reason), (refused.Error, refused.Field, refused.Reason));
        Assert.Equal(2, (await _market.Pool(pool).GetAsync()).AvailableSlots);
    }

    [Fact]
    public async Task A_minimum_above_the_slots_asked_says_how_many_were_asked()
    {
        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, MinSlots: 2)));

        // Not "1 to 1 slots at least", as it once read when --slots was left at its default.
        Assert.Equal("A partial fill's minimum must be 1 to the 1 slot(s) asked for; got 2.", refused.Message);
    }

    /// <summary>Books slots in this pool only (its provider is the only one allowed).</summary>
    private Task<LeaseSnapshot> HoldAsync(PoolDefinition pool, int slots) =>
        _market.RequestAsync(Tenant.New(), TestMarket.Request(pool, slots) with { Providers = [pool.ProviderId] });
}
