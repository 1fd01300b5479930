using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>Requests that name what they need rather than a kind: memory, throughput, price per token, providers.</summary>
[Collection(MarketClusterCollection.Name)]
public sealed class MatchingConstraintTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    [Fact]
    public async Task Any_kind_fills_from_a_kind_that_meets_the_memory_and_throughput_asked()
    {
        var region = TestMarket.NewRegion();
        await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 1.00m, kind: "inferentia2");
        var mi300x = await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 3.00m, kind: "mi300x");
        var h200 = await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 3.50m, kind: "h200");

        var bigMemory = await _market.RequestAsync(Tenant.New(), new LeaseRequest(LeaseRequest.AnyKind, 1, 1, region, MinMemoryGiB: 150));
        var fast = await _market.RequestAsync(Tenant.New(), new LeaseRequest(LeaseRequest.AnyKind, 1, 1, region, MinTokensPerSecond: 3_500));

        Assert.Equal(("mi300x", mi300x.PoolKey), (bigMemory.Request.Kind, bigMemory.PoolKey));
        Assert.Equal(("h200", h200.PoolKey), (fast.Request.Kind, fast.PoolKey));
    }

    [Fact]
    public async Task Any_kind_that_fills_nowhere_is_refused_with_the_nearest_kind_first_and_every_kind_named()
    {
        var region = TestMarket.NewRegion();
        var h200 = await _market.DefinePoolAsync(region, slots: 1, pricePerSlotHour: 3.50m, kind: "h200");
        await _market.RequestAsync(Tenant.New(), TestMarket.Request(h200));

        // MI300X (192 GiB) is cheaper per token than the H200 (141 GiB) but nobody offers it here; the H200 pool is full.
        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest(LeaseRequest.AnyKind, 1, 1, region, MinMemoryGiB: 141)));

        Assert.Equal(MarketError.Conflict, refused.Error);
        Assert.StartsWith("h200: ", refused.Message);
        Assert.Contains("mi300x: ", refused.Message);
        Assert.NotEqual("NoCapacity", refused.Reason);
    }

    [Fact]
    public async Task A_refusal_names_the_price_of_a_pool_with_room_not_of_a_cheaper_full_one()
    {
        var region = TestMarket.NewRegion();
        var full = await _market.DefinePoolAsync(region, slots: 1, pricePerSlotHour: 1.00m);
        await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 3.00m);
        await _market.RequestAsync(Tenant.New(), TestMarket.Request(full));

        // The cheap pool is full, the dear one has room: what would fill now is the dear one's price, not a later start.
        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, region, MaxPricePerSlotHour: Credits.FromCredits(2.00m))));

        Assert.Equal(("AboveMaxPrice", "maxPricePerSlotHour"), (refused.Reason, refused.Field));
        Assert.Contains("a max price of 3.000000 would fill now", refused.Message);
    }

    [Fact]
    public async Task No_room_at_the_allowed_provider_is_said_of_that_provider_while_others_have_room()
    {
        var region = TestMarket.NewRegion();
        var allowed = await _market.DefinePoolAsync(region, slots: 1, pricePerSlotHour: 1.00m);
        await _market.DefinePoolAsync(region, slots: 4, pricePerSlotHour: 3.00m);
        await _market.RequestAsync(Tenant.New(), TestMarket.Request(allowed));

        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, region, Providers: [allowed.ProviderId])));

        Assert.Equal("NoCapacityInWindow", refused.Reason);
        Assert.StartsWith($"No h100 pool in {region} of {allowed.ProviderId} has 1 free slot(s)", refused.Message);
    }

    [Fact]
    public async Task Provider_allow_and_deny_lists_choose_among_pools()
    {
        var region = TestMarket.NewRegion();
        var cheap = await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 2.00m);
        var dear = await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 3.00m);

        var avoiding = await _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, region, ExcludeProviders: [cheap.ProviderId]));
        var only = await _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, region, Providers: [dear.ProviderId]));
        var nobody = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, region, Providers: ["nobody"])));

        Assert.Equal(dear.PoolKey, avoiding.PoolKey);
        Assert.Equal(dear.PoolKey, only.PoolKey);
        Assert.Equal(("providers", "NoProviderAllowed"), (nobody.Field, nobody.Reason));
    }

    [Fact]
    public async Task A_max_price_per_million_tokens_caps_the_price_per_slot_hour()
    {
        var region = TestMarket.NewRegion();
        await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 2.40m);

        // An H100 makes 3,000 tokens/s: 10.8M tokens an hour, so 2.40 per slot-hour is about 0.2222 per 1M tokens.
        var tooLow = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, region, MaxPricePerMillionTokens: Credits.FromCredits(0.20m))));
        var enough = await _market.RequestAsync(Tenant.New(), new LeaseRequest("h100", 1, 1, region, MaxPricePerMillionTokens: Credits.FromCredits(0.25m)));

        Assert.Equal("AboveMaxPrice", tooLow.Reason);
        Assert.Equal(Credits.FromCredits(2.40m), enough.PricePerSlotHour);
    }

    [Theory]
    [InlineData("h100")]
    [InlineData(LeaseRequest.AnyKind)]
    public async Task A_max_price_per_million_tokens_too_low_is_refused_naming_that_cap_its_value_and_the_price_per_token_that_would_fill(string kind)
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 2.40m);

        // 2.40 per slot-hour of an H100 (10.8M tokens an hour) is 0.222223 per 1M tokens, rounded up to the unit.
        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(Tenant.New(), new LeaseRequest(kind, 1, 1, region, MaxPricePerMillionTokens: Credits.FromCredits(0.000001m))));

        Assert.Equal(("AboveMaxPrice", "maxPricePerMillionTokens"), (refused.Reason, refused.Field));
        Assert.Contains("0.000001", refused.Message);
        Assert.Contains("0.222223", refused.Message);
        Assert.Equal(2, (await _market.Pool(pool).GetAsync()).AvailableSlots);
    }

    [Theory]
    [InlineData("h100")]
    [InlineData(LeaseRequest.AnyKind)]
    public async Task A_max_price_per_million_tokens_beyond_any_price_per_slot_hour_caps_nothing(string kind)
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 2.40m);

        // 10^12 credits per 1M tokens is an amount of credits, but more per slot-hour than an amount can hold.
        var lease = await _market.RequestAsync(Tenant.New(), new LeaseRequest(kind, 1, 1, region, MaxPricePerMillionTokens: Credits.FromCredits(1_000_000_000_000m)));
        var quote = await _market.Grains.GetGrain<IMarketGrain>("h100").QuoteAsync(new LeaseRequest("h100", 1, 1, region, MaxPricePerMillionTokens: Credits.FromCredits(1_000_000_000_000m)));

        Assert.Equal((pool.PoolKey, Credits.FromCredits(2.40m)), (lease.PoolKey, lease.PricePerSlotHour));
        Assert.Equal(pool.PoolKey, quote.PoolKey);
    }

    public static TheoryData<LeaseRequest, string, string> Contradictions => new()
    {
        { new LeaseRequest("h100", 1, 1, MinMemoryGiB: 100), "minMemoryGiB", "KindBelowConstraints" },
        { new LeaseRequest("inferentia2", 1, 1, MinTokensPerSecond: 2_000), "minTokensPerSecond", "KindBelowConstraints" },
        { new LeaseRequest(LeaseRequest.AnyKind, 1, 1, MinMemoryGiB: 1_000), "minMemoryGiB", "NoKindFits" },
        { new LeaseRequest("h100", 1, 1, Providers: ["a"], ExcludeProviders: ["a"]), "providers", "ContradictoryConstraints" },
        { new LeaseRequest("h100", 1, 1, MaxPricePerMillionTokens: Credits.Zero), "maxPricePerMillionTokens", "OutOfRange" },
        { new LeaseRequest("h100", 1, 1, Providers: [null!]), "providers", "InvalidName" },
        { new LeaseRequest("h100", 1, 1, ExcludeProviders: ["Neuron-Cloud"]), "excludeProviders", "InvalidName" },
    };

    [Theory]
    [MemberData(nameof(Contradictions))]
    public async Task Constraints_that_cannot_be_met_are_refused_naming_the_field(LeaseRequest request, string field, string reason)
    {
        var region = TestMarket.NewRegion();
        var pool = await _market.DefinePoolAsync(region, slots: 1);

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.RequestAsync(Tenant.New(), request with { Region = region }));

        Assert.Equal((field, reason), (refused.Field, refused.Reason));
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
    }
}
