using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>Quotes: the price quoted is the price paid, until the quote expires.</summary>
[Collection(MarketClusterCollection.Name)]
public sealed class QuoteTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    private IMarketGrain Market(string kind = "h100") => _market.Grains.GetGrain<IMarketGrain>(kind);

    [Fact]
    public async Task A_quote_names_the_cheapest_pool_and_its_price_and_holds_no_slot()
    {
        var region = TestMarket.NewRegion();
        await _market.DefinePoolAsync(region, slots: 4, pricePerSlotHour: 3.00m);
        var cheapest = await _market.DefinePoolAsync(region, slots: 4, pricePerSlotHour: 2.00m);

        var quote = await Market().QuoteAsync(new LeaseRequest("h100", 2, 5, region));

        Assert.Equal(cheapest.PoolKey, quote.PoolKey);
        Assert.Equal(Credits.FromCredits(2.00m), quote.PricePerSlotHour);
        Assert.True(quote.ExpiresAt > DateTimeOffset.UtcNow);
        Assert.Equal(4, (await _market.Pool(cheapest).GetAsync()).AvailableSlots);
    }

    [Fact]
    public async Task A_lease_made_with_a_quote_pays_the_quoted_price_even_after_the_price_changed()
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 4, pricePerSlotHour: 2.00m);
        var quote = await Market().QuoteAsync(new LeaseRequest("h100", 2, 3, region));
        await _market.Pool(pool).DefineAsync(pool with { FloorPricePerSlotHour = Credits.FromCredits(2.50m) });

        var quoted = await _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 2, 3, region, QuoteId: quote.Id));
        var unquoted = await _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 3, region));

        Assert.Equal(Credits.FromCredits(2.00m), quoted.PricePerSlotHour);
        Assert.Equal(Credits.FromCredits(12.00m), quoted.Deposit);
        Assert.Equal(Credits.FromCredits(2.50m), unquoted.PricePerSlotHour);
    }

    [Fact]
    public async Task A_quote_is_used_once_and_not_after_it_expires()
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 4);
        var used = await Market().QuoteAsync(new LeaseRequest("h100", 1, 1, region));
        var expiring = await Market().QuoteAsync(new LeaseRequest("h100", 1, 1, region));
        var tenant = Tenant.New();
        // Funded, so that it holds its slot however long the test takes: the pool's holders below are this lease alone.
        var lease = await _market.FundAsync(await _market.RequestAsync(tenant, new LeaseRequest("h100", 1, 1, region, QuoteId: used.Id)), tenant);

        var reused = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, region, QuoteId: used.Id)));
        await Task.Delay(ClusterFixture.QuoteValidity + TimeSpan.FromMilliseconds(200));
        var expired = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, region, QuoteId: expiring.Id)));

        Assert.Equal(("quoteId", "UnknownQuote"), (reused.Field, reused.Reason));
        Assert.Equal(("quoteId", "QuoteExpired", MarketError.Conflict), (expired.Field, expired.Reason, expired.Error));
        Assert.Equal([lease.Id], (await _market.Pool(pool).GetAsync()).Holders.Values);
    }

    public static TheoryData<string, int, int, int?> OtherLeases => new()
    {
        { "slots", 2, 3, null },       // more slots than quoted
        { "hours", 1, 5, null },       // a longer lease than quoted
        { "start", 1, 3, 24 },         // a block tomorrow, on a quote for now
    };

    [Theory]
    [MemberData(nameof(OtherLeases))]
    public async Task A_quote_buys_only_the_lease_it_priced_and_a_refused_one_stays_good_for_that_lease(string field, int slots, int hours, int? startInHours)
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 4, pricePerSlotHour: 2.00m);
        var quote = await Market().QuoteAsync(new LeaseRequest("h100", 1, 3, region));
        var start = startInHours is { } h ? DateTimeOffset.UtcNow.AddHours(h) : (DateTimeOffset?)null;

        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", slots, hours, region, QuoteId: quote.Id, Start: start)));

        Assert.Equal((field, "QuoteMismatch", MarketError.InvalidRequest), (refused.Field, refused.Reason, refused.Error));
        Assert.Empty((await _market.Pool(pool).GetAsync()).Holders);
        var priced = await _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 3, region, QuoteId: quote.Id));
        Assert.Equal((Credits.FromCredits(2.00m), Credits.FromCredits(6.00m)), (priced.PricePerSlotHour, priced.Deposit));
    }

    [Fact]
    public async Task A_quote_for_a_reserved_block_names_its_window_and_leases_that_block()
    {
        var region = TestMarket.NewRegion();
        await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 2.00m);
        var start = DateTimeOffset.UtcNow.AddDays(1);
        var quote = await Market().QuoteAsync(new LeaseRequest("h100", 1, 4, region, Start: start));

        var now = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 4, region, QuoteId: quote.Id)));
        // The start as `occ quote` prints it again, to the second, is the same start.
        var block = await _market.RequestAsync(Tenant.New(),
            new LeaseRequest("h100", 1, 4, region, QuoteId: quote.Id, Start: start.AddTicks(-(start.Ticks % TimeSpan.TicksPerSecond))));

        Assert.Equal((4, start), (quote.Hours, quote.Start));
        Assert.Equal(("start", "QuoteMismatch"), (now.Field, now.Reason));
        Assert.Equal(Credits.FromCredits(2.00m), block.PricePerSlotHour);
    }

    [Theory]
    [InlineData("not-a-quote", "MalformedQuoteId")]
    [InlineData("00000000000000000000000000000001@nobody/nothing", "UnknownQuote")]
    public async Task A_bad_quote_id_is_refused_and_reserves_nothing(string quoteId, string reason)
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 2);

        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, region, QuoteId: quoteId)));

        Assert.Equal(("quoteId", reason), (refused.Field, refused.Reason));
        Assert.Equal(2, (await _market.Pool(pool).GetAsync()).AvailableSlots);
    }

    [Fact]
    public async Task An_unfillable_quote_request_says_what_price_would_fill()
    {
        var region = TestMarket.NewRegion();
        await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 2.40m);

        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            Market().QuoteAsync(new LeaseRequest("h100", 1, 1, region, Credits.FromCredits(1.00m))));

        Assert.Equal("AboveMaxPrice", refused.Reason);
        Assert.Contains("a max price of 2.400000 would fill", refused.Message);
    }
}
