using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Orders;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>
/// An order the market cannot take now rests like any other and never stops the book from filling the rest; an order
/// the market would refuse as bad input is refused when placed, as a lease request for it is, and nothing rests.
/// </summary>
[Collection(MarketClusterCollection.Name)]
public sealed class OrderBookRefusalTests(ClusterFixture cluster)
{
    private const string Kind = "inferentia2";
    private readonly TestMarket _market = new(cluster.Grains);

    private IOrderBookGrain Book => _market.Grains.GetGrain<IOrderBookGrain>(Kind);

    [Fact]
    public async Task An_order_for_more_slots_than_are_free_rests_and_the_orders_behind_it_still_fill()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2, kind: Kind);
        await _market.RequestAsync(Tenant.New(), TestMarket.Request(pool));
        // No max price: it goes first, and cannot fill while one of the two slots is held.
        var greedy = TestMarket.Request(pool, slots: 2);
        var modest = TestMarket.Request(pool) with { MaxPricePerSlotHour = Credits.FromCredits(100m) };

        var resting = await Book.PlaceAsync(Tenant.New().Address, greedy, TimeSpan.FromMinutes(1));
        var filled = await Book.PlaceAsync(Tenant.New().Address, modest, TimeSpan.FromMinutes(1));

        Assert.Equal((OrderStatus.Open, "NoCapacityInWindow"), (resting.Status, resting.Reason));
        Assert.Equal(OrderStatus.Filled, filled.Status);
        Assert.Equal(pool.PoolKey, (await _market.GetLeaseAsync(filled.LeaseId!.Value)).PoolKey);
        await Book.CancelAsync(resting.Tenant, ScopedIds.TryParse(resting.Id, out var id, out _) ? id : Guid.Empty);
    }

    public static TheoryData<string, string, string> BadOrders => new()
    {
        // case, field, reason
        { "unknown region", "region", "UnknownRegion" },
        { "more slots than any pool has", "slots", "MoreSlotsThanExist" },
        { "a partial fill of more slots than any pool has", "minSlots", "MoreSlotsThanExist" },
        { "zero voucher threshold", "voucherEvery", "OutOfRange" },
        { "negative voucher threshold", "voucherEvery", "OutOfRange" },
    };

    [Theory]
    [MemberData(nameof(BadOrders))]
    public async Task An_order_the_market_would_refuse_as_bad_input_is_refused_as_a_lease_request_is_and_nothing_rests(string badCase, string field, string reason)
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2, kind: Kind);
        var valid = TestMarket.Request(pool);
        var bad = badCase switch
        {
            "unknown region" => valid with { Region = TestMarket.NewRegion() },
            "more slots than any pool has" => valid with { Slots = 3 },
            "a partial fill of more slots than any pool has" => valid with { Slots = 4, MinSlots = 3 },
            "zero voucher threshold" => valid with { BillBy = LeaseBillingMode.Tokens, VoucherEvery = Credits.Zero },
            "negative voucher threshold" => valid with { BillBy = LeaseBillingMode.Tokens, VoucherEvery = Credits.FromCredits(-3) },
            _ => valid,
        };
        var tenant = Tenant.New();

        var refused = await Assert.ThrowsAsync<MarketException>(() => Book.PlaceAsync(tenant.Address, bad, TimeSpan.FromMinutes(10)));
        var asLease = await Assert.ThrowsAsync<MarketException>(() => _market.RequestAsync(tenant, bad));

        // An order's request is the "lease" of its body ({lease, validForMinutes}), so its fields are named as they are there.
        Assert.Equal((MarketError.InvalidRequest, "lease." + field, reason), (refused.Error, refused.Field, refused.Reason));
        Assert.Equal((asLease.Error, "lease." + asLease.Field, asLease.Reason, asLease.Message), (refused.Error, refused.Field, refused.Reason, refused.Message));
        Assert.DoesNotContain(await Book.ListAsync(), o => o.Tenant == tenant.Address.ToLowerInvariant());
        var account = await _market.Grains.GetGrain<IAccountGrain>(tenant.Address.ToLowerInvariant()).GetAsync();
        Assert.Empty(account.Orders);
        Assert.Empty(account.Leases);
        Assert.Empty((await _market.Pool(pool).GetAsync()).Holders);

        // The same order, well formed, fills.
        var filled = await Book.PlaceAsync(tenant.Address, valid, TimeSpan.FromMinutes(10));
        Assert.Equal(OrderStatus.Filled, filled.Status);
        Assert.Equal(pool.PoolKey, (await _market.GetLeaseAsync(filled.LeaseId!.Value)).PoolKey);
    }
}
