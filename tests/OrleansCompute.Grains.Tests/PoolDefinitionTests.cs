using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

[Collection(MarketClusterCollection.Name)]
public sealed class PoolDefinitionTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    [Fact]
    public async Task Pools_defined_at_the_same_time_are_all_listed_in_their_market()
    {
        var region = TestMarket.NewRegion();

        var pools = await Task.WhenAll(Enumerable.Range(0, 24).Select(i => _market.DefinePoolAsync(region, slots: 1 + i % 3, pricePerSlotHour: 1m + i)));

        var offers = await _market.Grains.GetGrain<IMarketGrain>("h100").GetOffersAsync(region);
        Assert.Equal(pools.Select(p => p.PoolKey).Order(), offers.Select(o => o.PoolKey).Order());
        var directory = await _market.Grains.GetGrain<IMarketGrain>("h100").GetAsync();
        Assert.All(pools, pool => Assert.Contains(pool, directory.Pools));
    }

    [Fact]
    public async Task Redefining_a_pool_updates_its_offer_and_the_price_new_leases_pay()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2, pricePerSlotHour: 2m);
        var repriced = pool with { SlotCount = 5, FloorPricePerSlotHour = Credits.FromCredits(1.5m) };

        await _market.Pool(pool).DefineAsync(repriced);

        var offer = Assert.Single(await _market.Grains.GetGrain<IMarketGrain>("h100").GetOffersAsync(pool.Region));
        Assert.Equal(5, offer.TotalSlots);
        Assert.Equal(repriced.FloorPricePerSlotHour, offer.PricePerSlotHour);
        var lease = await _market.RequestAsync(Tenant.New(), TestMarket.Request(pool, slots: 4));
        Assert.Equal(repriced.FloorPricePerSlotHour, lease.PricePerSlotHour);
        Assert.Contains(pool.PoolKey, (await _market.Grains.GetGrain<IAccountGrain>(pool.PayoutAddress.ToLowerInvariant()).GetAsync()).Pools);
    }

    [Fact]
    public async Task A_pool_cannot_shrink_below_a_slot_that_is_held()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 3);
        await _market.RequestAsync(Tenant.New(), TestMarket.Request(pool, slots: 3));

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Pool(pool).DefineAsync(pool with { SlotCount = 2 }));

        Assert.Equal(MarketError.Conflict, refused.Error);
        Assert.Equal("slotCount", refused.Field);
        Assert.Equal(3, (await _market.Pool(pool).GetAsync()).Definition!.SlotCount);
    }

    [Fact]
    public async Task A_request_for_one_kind_is_never_filled_with_slots_of_another()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2, kind: "h100");
        var nowMi300x = pool with { Kind = "mi300x" };

        try
        {
            await _market.Pool(pool).DefineAsync(nowMi300x);
        }
        catch (MarketException refused)
        {
            // Refusing to change a pool's kind is one way to keep this promise.
            Assert.Equal("kind", refused.Field);
            return;
        }

        var tenant = Tenant.New();
        try
        {
            var lease = await _market.RequestAsync(tenant, new LeaseRequest("h100", 1, 1, pool.Region));
            var snapshot = await _market.Pool(pool).GetAsync();
            Assert.Equal(lease.Request.Kind, snapshot.Definition!.Kind);
        }
        catch (MarketException)
        {
            // No h100 left in the region: the right answer.
        }
        Assert.DoesNotContain(await _market.Grains.GetGrain<IMarketGrain>("h100").GetOffersAsync(pool.Region), o => o.Kind != "h100");
    }

    [Theory]
    [InlineData("payoutAddress")]
    [InlineData("region")]
    public async Task A_pool_keeps_its_payout_address_and_its_region_and_a_redefinition_that_changes_either_changes_nothing(string field)
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2, pricePerSlotHour: 2m);
        var lease = await _market.RequestAsync(Tenant.New(), TestMarket.Request(pool));
        var changed = field == "payoutAddress"
            ? pool with { PayoutAddress = TestMarket.NewAddress(), SlotCount = 3 }
            : pool with { Region = TestMarket.NewRegion(), SlotCount = 3 };

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Pool(pool).DefineAsync(changed));

        Assert.Equal((MarketError.InvalidRequest, field), (refused.Error, refused.Field));
        Assert.Equal(pool, (await _market.Pool(pool).GetAsync()).Definition);
        Assert.Contains(pool, (await _market.Grains.GetGrain<IMarketGrain>("h100").GetAsync()).Pools);
        if (field == "region") Assert.Empty(await _market.Grains.GetGrain<IMarketGrain>("h100").GetOffersAsync(changed.Region));
        else Assert.Empty((await _market.Grains.GetGrain<IAccountGrain>(changed.PayoutAddress.ToLowerInvariant()).GetAsync()).Pools);
        Assert.Equal(pool.PayoutAddress, (await _market.GetLeaseAsync(lease.Id)).ProviderAddress, ignoreCase: true);
    }

    [Fact]
    public async Task The_payout_address_of_a_redefinition_may_differ_from_the_pools_only_in_case()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);

        await _market.Pool(pool).DefineAsync(pool with { PayoutAddress = "0x" + pool.PayoutAddress[2..].ToLowerInvariant(), SlotCount = 3 });

        Assert.Equal(pool with { SlotCount = 3 }, (await _market.Pool(pool).GetAsync()).Definition);
    }
}
