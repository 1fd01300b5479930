using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Orders;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>An order the market cannot take as asked rests like any other: it never stops the book from filling the rest.</summary>
[Collection(MarketClusterCollection.Name)]
public sealed class OrderBookRefusalTests(ClusterFixture cluster)
{
    private const string Kind = "inferentia2";
    private readonly TestMarket _market = new(cluster.Grains);

    private IOrderBookGrain Book => _market.Grains.GetGrain<IOrderBookGrain>(Kind);

    [Fact]
    public async Task An_order_for_more_slots_than_any_pool_has_rests_and_the_orders_behind_it_still_fill()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1, kind: Kind);
        var greedy = new LeaseRequest(Kind, 2, 1, pool.Region);
        var modest = TestMarket.Request(pool) with { MaxPricePerSlotHour = Credits.FromCredits(100m) };

        var resting = await Book.PlaceAsync(Tenant.New().Address, greedy, TimeSpan.FromMinutes(1));
        var filled = await Book.PlaceAsync(Tenant.New().Address, modest, TimeSpan.FromMinutes(1));

        Assert.Equal((OrderStatus.Open, "MoreSlotsThanExist"), (resting.Status, resting.Reason));
        Assert.Equal(OrderStatus.Filled, filled.Status);
        Assert.Equal(pool.PoolKey, (await _market.GetLeaseAsync(filled.LeaseId!.Value)).PoolKey);
        await Book.CancelAsync(resting.Tenant, ScopedIds.TryParse(resting.Id, out var id, out _) ? id : Guid.Empty);
    }
}
