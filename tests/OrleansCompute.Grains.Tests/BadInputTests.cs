using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

[Collection(MarketClusterCollection.Name)]
public sealed class BadInputTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    public static TheoryData<string, string, string> BadRequests => new()
    {
        // case, field, reason
        { "unknown kind", "kind", "UnknownKind" },
        { "no kind", "kind", "UnknownKind" },
        { "zero slots", "slots", "OutOfRange" },
        { "negative slots", "slots", "OutOfRange" },
        { "more slots than a lease may take", "slots", "OutOfRange" },
        { "more slots than any pool has", "slots", "MoreSlotsThanExist" },
        { "zero hours", "hours", "OutOfRange" },
        { "negative hours", "hours", "OutOfRange" },
        { "more hours than a lease may take", "hours", "OutOfRange" },
        { "zero max price", "maxPricePerSlotHour", "OutOfRange" },
        { "negative max price", "maxPricePerSlotHour", "OutOfRange" },
        { "zero voucher threshold", "voucherEvery", "OutOfRange" },
        { "negative voucher threshold", "voucherEvery", "OutOfRange" },
        { "unknown region", "region", "UnknownRegion" },
        { "malformed region", "region", "InvalidName" },
        { "tenant too short", "tenant", "MalformedAddress" },
        { "tenant not hex", "tenant", "MalformedAddress" },
        { "tenant without 0x", "tenant", "MalformedAddress" },
        { "no tenant", "tenant", "MalformedAddress" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_request_is_refused_naming_the_field_and_changes_nothing(string badCase, string field, string reason)
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var valid = TestMarket.Request(pool);
        var tenant = Tenant.New().Address;
        var request = badCase switch
        {
            "unknown kind" => valid with { Kind = "tpu-v9" },
            "no kind" => valid with { Kind = "" },
            "zero slots" => valid with { Slots = 0 },
            "negative slots" => valid with { Slots = -1 },
            "more slots than a lease may take" => valid with { Slots = 65 },
            "more slots than any pool has" => valid with { Slots = 3 },
            "zero hours" => valid with { Hours = 0 },
            "negative hours" => valid with { Hours = -5 },
            "more hours than a lease may take" => valid with { Hours = 24 * 30 + 1 },
            "zero max price" => valid with { MaxPricePerSlotHour = Credits.Zero },
            "negative max price" => valid with { MaxPricePerSlotHour = Credits.FromCredits(-1) },
            "zero voucher threshold" => valid with { BillBy = LeaseBillingMode.Tokens, VoucherEvery = Credits.Zero },
            "negative voucher threshold" => valid with { BillBy = LeaseBillingMode.Tokens, VoucherEvery = Credits.FromCredits(-1) },
            "unknown region" => valid with { Region = TestMarket.NewRegion() },
            "malformed region" => valid with { Region = "Not A Region" },
            _ => valid,
        };
        tenant = badCase switch
        {
            "tenant too short" => "0x1234",
            "tenant not hex" => "0x" + new string('g', 40),
            "tenant without 0x" => tenant[2..] + "00",
            "no tenant" => "",
            _ => tenant,
        };
        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Grains.RequestLeaseAsync(tenant, request));

        Assert.Equal(MarketError.InvalidRequest, refused.Error);
        Assert.Equal(field, refused.Field);
        Assert.Equal(reason, refused.Reason);
        Assert.False(string.IsNullOrWhiteSpace(refused.Message));

        var snapshot = await _market.Pool(pool).GetAsync();
        Assert.Equal(2, snapshot.AvailableSlots);
        Assert.Empty(snapshot.Holders);
        Assert.All(await _market.SlotsAsync(pool), slot => Assert.Equal(SlotStatus.Available, slot.Status));
        if (AccountKeys.IsAddress(tenant))
            Assert.Empty((await _market.Grains.GetGrain<IAccountGrain>(tenant.ToLowerInvariant()).GetAsync()).Leases);

        // A good request still fills afterwards.
        var lease = await _market.Grains.RequestLeaseAsync(Tenant.New().Address, valid);
        Assert.Equal(pool.PoolKey, lease.PoolKey);
    }

    [Fact]
    public async Task A_pool_priced_so_high_that_a_deposit_could_overflow_is_refused()
    {
        var region = TestMarket.NewRegion();
        var pool = new PoolDefinition("p-" + Guid.NewGuid().ToString("N")[..12], "pool", "h100", region, 1,
            Credits.FromUnits(long.MaxValue / 2), TestMarket.NewAddress());

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Pool(pool).DefineAsync(pool));

        Assert.Equal("floorPricePerSlotHour", refused.Field);
        Assert.Null((await _market.Pool(pool).GetAsync()).Definition);
    }

    public static TheoryData<string, string> BadPools => new()
    {
        { "unknown kind", "kind" },
        { "zero slots", "slotCount" },
        { "zero price", "floorPricePerSlotHour" },
        { "malformed payout address", "payoutAddress" },
        { "malformed region", "region" },
    };

    [Theory]
    [MemberData(nameof(BadPools))]
    public async Task Bad_pool_definition_is_refused_naming_the_field_and_lists_nothing(string badCase, string field)
    {
        var region = TestMarket.NewRegion();
        var valid = new PoolDefinition("p-" + Guid.NewGuid().ToString("N")[..12], "pool", "h100", region, 2, Credits.FromCredits(2), TestMarket.NewAddress());
        var pool = badCase switch
        {
            "unknown kind" => valid with { Kind = "tpu-v9" },
            "zero slots" => valid with { SlotCount = 0 },
            "zero price" => valid with { FloorPricePerSlotHour = Credits.Zero },
            "malformed payout address" => valid with { PayoutAddress = "0xabc" },
            "malformed region" => valid with { Region = "Upper Case" },
            _ => valid,
        };

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Pool(pool).DefineAsync(pool));

        Assert.Equal(MarketError.InvalidRequest, refused.Error);
        Assert.Equal(field, refused.Field);
        Assert.Null((await _market.Pool(pool).GetAsync()).Definition);
        Assert.Empty(await _market.Grains.GetGrain<IMarketGrain>("h100").GetOffersAsync(region));
    }
}
