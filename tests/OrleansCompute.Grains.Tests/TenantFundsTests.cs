using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>
/// A request carrying the tenant's funds (its wallet and escrow balance, as the host read them on chain) books only a
/// deposit they pay: beyond them it is refused with InsufficientFunds and holds nothing.
/// </summary>
[Collection(MarketClusterCollection.Name)]
public sealed class TenantFundsTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    private Task<LeaseSnapshot> RequestAsync(LeaseRequest request, decimal funds) =>
        _market.Grains.RequestLeaseAsync(Tenant.New().Address, request, Credits.FromCredits(funds));

    [Fact]
    public async Task A_deposit_beyond_the_funds_is_refused_naming_the_tenant_and_holds_nothing_and_one_they_pay_exactly_is_booked()
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 4, pricePerSlotHour: 2.00m);
        var request = new LeaseRequest("h100", 2, 3, region);

        var refused = await Assert.ThrowsAsync<MarketException>(() => RequestAsync(request, 11.999999m));

        Assert.Equal((MarketError.InsufficientFunds, "InsufficientFunds", "tenant"), (refused.Error, refused.Reason, refused.Field));
        Assert.Contains("holds 11.999999 credits", refused.Message);
        Assert.Contains("a deposit of 12.000000 for 2 slot(s) × 3 h", refused.Message);
        Assert.Equal(4, (await _market.Pool(pool).GetAsync()).AvailableSlots);

        var lease = await RequestAsync(request, 12.00m);
        Assert.Equal((pool.PoolKey, Credits.FromCredits(12.00m)), (lease.PoolKey, lease.Deposit));
    }

    [Fact]
    public async Task A_partial_fill_takes_no_more_slots_than_the_funds_pay_for()
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 5, pricePerSlotHour: 3.00m);

        var lease = await RequestAsync(new LeaseRequest("h100", 5, 2, region, MinSlots: 1), 18.50m);

        Assert.Equal((3, Credits.FromCredits(18.00m)), (lease.SlotKeys.Count, lease.Deposit));
        Assert.Equal(2, (await _market.Pool(pool).GetAsync()).AvailableSlots);
        var refused = await Assert.ThrowsAsync<MarketException>(() => RequestAsync(new LeaseRequest("h100", 2, 2, region, MinSlots: 1), 5.99m));
        Assert.Equal("InsufficientFunds", refused.Reason);
        Assert.Equal(2, (await _market.Pool(pool).GetAsync()).AvailableSlots);
    }

    [Fact]
    public async Task A_quoted_request_beyond_the_funds_is_refused_and_the_quote_stays_good()
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 4, pricePerSlotHour: 2.00m);
        var quote = await _market.Grains.GetGrain<IMarketGrain>("h100").QuoteAsync(new LeaseRequest("h100", 1, 2, region));
        var request = new LeaseRequest("h100", 1, 2, region, QuoteId: quote.Id);

        var refused = await Assert.ThrowsAsync<MarketException>(() => RequestAsync(request, 3.00m));

        Assert.Equal(("InsufficientFunds", "tenant"), (refused.Reason, refused.Field));
        Assert.Contains($"the quote of pool {pool.PoolKey}", refused.Message);
        Assert.Equal(Credits.FromCredits(4.00m), (await RequestAsync(request, 4.00m)).Deposit);
    }

    [Fact]
    public async Task A_request_for_any_kind_goes_on_to_a_kind_the_funds_pay_for()
    {
        // MI300X comes before H100 for "any kind" (cheaper per token at list price); here its pool asks more per slot-hour.
        var region = TestMarket.NewRegion();
        await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 3.00m, kind: "mi300x");
        await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 1.00m, kind: "h100");
        var request = new LeaseRequest(LeaseRequest.AnyKind, 1, 1, region) { MinMemoryGiB = 80 };

        var withoutFunds = await _market.Grains.RequestLeaseAsync(Tenant.New().Address, request);
        var paid = await RequestAsync(request, 1.50m);
        var refused = await Assert.ThrowsAsync<MarketException>(() => RequestAsync(request, 0.50m));

        Assert.Equal("mi300x", withoutFunds.Request.Kind);
        Assert.Equal("h100", paid.Request.Kind);
        Assert.Equal((MarketError.InsufficientFunds, "tenant"), (refused.Error, refused.Field));
    }

    [Fact]
    public async Task The_hosts_router_asks_no_pool_the_funds_cannot_pay_and_refuses_as_the_market_does()
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 2.00m);
        var router = new LeaseRouter(cluster.Grains, Options.Create(new MarketOptions { FundingWindow = ClusterFixture.FundingWindow }), TimeProvider.System);

        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            router.RequestAsync(Tenant.New().Address, TestMarket.Request(pool), Credits.FromCredits(1.99m)));
        var lease = await router.RequestAsync(Tenant.New().Address, TestMarket.Request(pool), Credits.FromCredits(2.00m));

        Assert.Equal((MarketError.InsufficientFunds, "tenant"), (refused.Error, refused.Field));
        Assert.Equal(pool.PoolKey, lease.PoolKey);
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
    }
}
