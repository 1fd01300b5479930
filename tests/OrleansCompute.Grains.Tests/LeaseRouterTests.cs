using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>The host's way in for a lease: straight to a pool from a silo's copy of the market's view, the market when that fails.</summary>
[Collection(MarketClusterCollection.Name)]
public sealed class LeaseRouterTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    /// <summary>A router whose copy of each market's view, once taken, is never refreshed during the test.</summary>
    private LeaseRouter StaleRouter() => new(cluster.Grains,
        Options.Create(new MarketOptions { FundingWindow = ClusterFixture.FundingWindow, RouterViewAge = TimeSpan.FromHours(1) }), TimeProvider.System);

    [Fact]
    public async Task A_lease_goes_to_the_cheapest_pool_with_room_and_when_the_view_is_stale_to_the_next_without_double_booking()
    {
        var region = TestMarket.NewRegion();
        var cheap = await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 1.00m);
        var dear = await _market.DefinePoolAsync(region, slots: 4, pricePerSlotHour: 2.00m);
        var router = StaleRouter();

        var leases = new List<LeaseSnapshot>();
        for (var i = 0; i < 4; i++) leases.Add(await router.RequestAsync(Tenant.New().Address, TestMarket.Request(cheap)));

        // The view still says the cheap pool has 2 free slots; it has none after the first two leases.
        Assert.Equal([cheap.PoolKey, cheap.PoolKey, dear.PoolKey, dear.PoolKey], leases.Select(l => l.PoolKey));
        Assert.All(leases, l => Assert.Equal(LeaseStatus.Reserved, l.Status));
        Assert.Equal(0, (await _market.Pool(cheap).GetAsync()).AvailableSlots);
        Assert.Equal(2, (await _market.Pool(dear).GetAsync()).AvailableSlots);
        Assert.Equal(4, leases.SelectMany(l => l.SlotKeys).Distinct().Count());
        await _market.AssertPoolAgreesWithSlotsAsync(cheap);
        await _market.AssertPoolAgreesWithSlotsAsync(dear);
    }

    [Fact]
    public async Task When_no_pool_can_take_a_lease_the_refusal_is_the_markets_with_what_would_fill()
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 1, pricePerSlotHour: 1.50m);
        var router = StaleRouter();
        await router.RequestAsync(Tenant.New().Address, TestMarket.Request(pool));

        var refused = await Assert.ThrowsAsync<MarketException>(() => router.RequestAsync(Tenant.New().Address, TestMarket.Request(pool)));
        Assert.Equal(MarketError.Conflict, refused.Error);
        Assert.Equal("NoCapacityInWindow", refused.Reason);
        Assert.Contains("nearest start", refused.Message);

        // Full and dearer than the cap: no price fills now, so the refusal names the nearest start and what it would cost.
        var tooCheap = await Assert.ThrowsAsync<MarketException>(() =>
            router.RequestAsync(Tenant.New().Address, TestMarket.Request(pool) with { MaxPricePerSlotHour = Credits.FromCredits(1.00m) }));
        Assert.Equal("NoCapacityInWindow", tooCheap.Reason);
        Assert.Contains("per slot-hour (above the max price)", tooCheap.Message);

        // With room, only the price stands in the way: the refusal names the price that fills now.
        var wider = await _market.DefinePoolAsync(region, slots: 1, pricePerSlotHour: 1.50m);
        var priced = await Assert.ThrowsAsync<MarketException>(() =>
            router.RequestAsync(Tenant.New().Address, TestMarket.Request(wider) with { MaxPricePerSlotHour = Credits.FromCredits(1.00m) }));
        Assert.Equal("AboveMaxPrice", priced.Reason);
    }

    [Fact]
    public async Task Bad_input_and_requests_the_market_alone_decides_are_answered_as_the_market_answers_them()
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 2.00m);
        var router = StaleRouter();

        var invalid = await Assert.ThrowsAsync<MarketException>(() => router.RequestAsync(Tenant.New().Address, TestMarket.Request(pool) with { Hours = 0 }));
        Assert.Equal(("hours", "OutOfRange"), (invalid.Field, invalid.Reason));
        Assert.Equal(2, (await _market.Pool(pool).GetAsync()).AvailableSlots);

        var partial = await router.RequestAsync(Tenant.New().Address, TestMarket.Request(pool, slots: 3) with { MinSlots = 1 });
        Assert.Equal(2, partial.Request.Slots);
        Assert.Equal(LeaseReasons.PartialFill, partial.History[^1].Reason);

        // The pool is full now: an any-kind request fills nowhere, and says so as the market does.
        var anyKind = new LeaseRequest(LeaseRequest.AnyKind, 1, 1, region, MinMemoryGiB: 80);
        var viaRouter = await Assert.ThrowsAsync<MarketException>(() => router.RequestAsync(Tenant.New().Address, anyKind));
        var viaMarket = await Assert.ThrowsAsync<MarketException>(() => _market.Grains.RequestLeaseAsync(Tenant.New().Address, anyKind));
        Assert.Equal((viaMarket.Error, viaMarket.Reason, viaMarket.Field), (viaRouter.Error, viaRouter.Reason, viaRouter.Field));
    }
}
