using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>A provider id belongs to the address its first pool pays: nobody else can add pools in its name.</summary>
[Collection(MarketClusterCollection.Name)]
public sealed class ProviderIdTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    [Fact]
    public async Task A_new_pool_under_a_provider_id_paying_another_address_is_refused_and_offers_nothing()
    {
        var owned = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var impostor = owned with { PoolName = "h100-fake", PayoutAddress = TestMarket.NewAddress(), Region = TestMarket.NewRegion() };

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Pool(impostor).DefineAsync(impostor));

        Assert.Equal((MarketError.NotYourLease, "NotYourProvider", "providerId"), (refused.Error, refused.Reason, refused.Field));
        Assert.Null((await _market.Pool(impostor).GetAsync()).Definition);
        Assert.Empty(await _market.Grains.GetGrain<IMarketGrain>("h100").GetOffersAsync(impostor.Region));
        Assert.Empty((await _market.Grains.GetGrain<IAccountGrain>(impostor.PayoutAddress.ToLowerInvariant()).GetAsync()).Pools);
        var provider = await _market.Grains.GetGrain<IProviderGrain>(owned.ProviderId).GetAsync();
        Assert.Equal(owned.PayoutAddress.ToLowerInvariant(), provider.PayoutAddress);
        Assert.Equal([owned.PoolKey], provider.Pools);

        // The provider's own key adds it.
        var second = impostor with { PayoutAddress = owned.PayoutAddress };
        await _market.Pool(second).DefineAsync(second);
        Assert.Equal([owned.PoolKey, second.PoolKey], (await _market.Grains.GetGrain<IProviderGrain>(owned.ProviderId).GetAsync()).Pools);
    }

    [Fact]
    public async Task A_provider_id_with_pools_from_before_providers_were_recorded_belongs_to_the_address_they_pay()
    {
        var region = TestMarket.NewRegion();
        var earlier = new PoolDefinition("p-" + Guid.NewGuid().ToString("N")[..12], "pool", "h100", region, 2, Credits.FromCredits(2m), TestMarket.NewAddress());
        // Listed in its market as a pool defined before provider grains existed is: no provider grain knows the id.
        await _market.Grains.GetGrain<IMarketGrain>("h100").RegisterPoolAsync(earlier, new PoolStatus(earlier.PoolKey, earlier.FloorPricePerSlotHour, 2));
        var impostor = earlier with { PoolName = "fake", PayoutAddress = TestMarket.NewAddress() };
        var own = earlier with { PoolName = "more" };

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Pool(impostor).DefineAsync(impostor));
        await _market.Pool(own).DefineAsync(own);

        Assert.Equal("NotYourProvider", refused.Reason);
        Assert.Null((await _market.Pool(impostor).GetAsync()).Definition);
        Assert.Equal(earlier.PayoutAddress.ToLowerInvariant(), (await _market.Grains.GetGrain<IProviderGrain>(earlier.ProviderId).GetAsync()).PayoutAddress);
        // Other tests' requests may be offered the listed pool: it is defined for real, as it was before the upgrade.
        await _market.Pool(earlier).DefineAsync(earlier);
    }
}

/// <summary>Who owns a provider id is kept with the market's state: a restart does not open the id to anyone.</summary>
[Collection(DurableMarketCollection.Name)]
public sealed class DurableProviderIdTests(DurableClusterFixture durable)
{
    [Fact]
    public async Task A_provider_id_still_belongs_to_its_address_after_a_restart()
    {
        var owned = new PoolDefinition("p-" + Guid.NewGuid().ToString("N")[..12], "pool", "h100", TestMarket.NewRegion(), 2, Credits.FromCredits(2m), TestMarket.NewAddress());
        await durable.Grains.GetGrain<IPoolGrain>(owned.PoolKey).DefineAsync(owned);

        await durable.RestartAsync();
        var impostor = owned with { PoolName = "fake", PayoutAddress = TestMarket.NewAddress(), Region = TestMarket.NewRegion() };
        var refused = await Assert.ThrowsAsync<MarketException>(() => durable.Grains.GetGrain<IPoolGrain>(impostor.PoolKey).DefineAsync(impostor));

        Assert.Equal("NotYourProvider", refused.Reason);
        Assert.Equal([owned.PoolKey], (await durable.Grains.GetGrain<IProviderGrain>(owned.ProviderId).GetAsync()).Pools);
    }
}
