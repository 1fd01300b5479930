using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

[Collection(MarketClusterCollection.Name)]
public sealed class ReservationTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    [Fact]
    public async Task Request_reserves_the_slots_in_the_cheapest_pool_that_fits()
    {
        var region = TestMarket.NewRegion();
        var tooSmall = await _market.DefinePoolAsync(region, slots: 1, pricePerSlotHour: 1.00m);
        var cheapest = await _market.DefinePoolAsync(region, slots: 4, pricePerSlotHour: 2.00m);
        var dearer = await _market.DefinePoolAsync(region, slots: 8, pricePerSlotHour: 3.00m);
        var tenant = Tenant.New();

        var lease = await _market.RequestAsync(tenant, new LeaseRequest("h100", Slots: 2, Hours: 3, region));

        Assert.Equal(LeaseStatus.Reserved, lease.Status);
        Assert.Equal(tenant.Address.ToLowerInvariant(), lease.Tenant);
        Assert.Equal(cheapest.PoolKey, lease.PoolKey);
        Assert.Equal(cheapest.ProviderId, lease.ProviderId);
        Assert.Equal(cheapest.PayoutAddress.ToLowerInvariant(), lease.ProviderAddress);
        Assert.Equal(Credits.FromCredits(2.00m), lease.PricePerSlotHour);
        Assert.Equal(Credits.FromCredits(2.00m * 2 * 3), lease.Deposit);
        Assert.Equal(lease.CreatedAt + ClusterFixture.FundingWindow, lease.FundBy);
        Assert.True(lease.EscrowExpiry >= lease.FundBy + TimeSpan.FromHours(3), "the escrow must outlast the lease window");
        Assert.Equal(LeaseIds.ToChainId(lease.Id).ToString(), lease.ChainLeaseId);
        Assert.Equal([LeaseStatus.Requested, LeaseStatus.Reserved], lease.History.Select(t => t.Status));
        var stored = await _market.GetLeaseAsync(lease.Id);
        Assert.Equal(lease.Status, stored.Status);
        Assert.Equal(lease.SlotKeys, stored.SlotKeys);

        Assert.Equal(2, lease.SlotKeys.Count);
        Assert.Equal(2, lease.SlotKeys.Distinct().Count());
        foreach (var slotKey in lease.SlotKeys)
        {
            Assert.Equal(cheapest.PoolKey, MarketKeys.ParseSlot(slotKey).PoolKey);
            var slot = await _market.Slot(slotKey).GetAsync();
            Assert.Equal(SlotStatus.Reserved, slot.Status);
            Assert.Equal(lease.Id, slot.LeaseId);
            Assert.Equal(lease.FundBy, slot.HeldUntil);
        }

        var pool = await _market.Pool(cheapest).GetAsync();
        Assert.Equal(2, pool.AvailableSlots);
        Assert.Equal(lease.SlotKeys.Order(), pool.Holders.Where(h => h.Value == lease.Id).Select(h => MarketKeys.Slot(cheapest.PoolKey, h.Key)).Order());
        await _market.AssertPoolAgreesWithSlotsAsync(cheapest);

        var offers = await _market.Grains.GetGrain<IMarketGrain>("h100").GetOffersAsync(region);
        Assert.Equal([tooSmall.PoolKey, cheapest.PoolKey, dearer.PoolKey], offers.Select(o => o.PoolKey));
        Assert.Equal([1, 2, 8], offers.Select(o => o.AvailableSlots));
        Assert.Equal([1, 4, 8], offers.Select(o => o.TotalSlots));

        var account = await _market.Grains.GetGrain<IAccountGrain>(tenant.Address.ToLowerInvariant()).GetAsync();
        Assert.Contains(lease.Id, account.Leases);
    }

    [Fact]
    public async Task Request_falls_through_to_the_next_cheapest_pool_when_the_cheapest_is_full()
    {
        var region = TestMarket.NewRegion();
        var cheapest = await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 1.50m);
        var next = await _market.DefinePoolAsync(region, slots: 2, pricePerSlotHour: 2.50m);
        var tenant = Tenant.New();

        var first = await _market.RequestAsync(tenant, TestMarket.Request(cheapest, slots: 2));
        var second = await _market.RequestAsync(tenant, TestMarket.Request(cheapest, slots: 1));

        Assert.Equal(cheapest.PoolKey, first.PoolKey);
        Assert.Equal(next.PoolKey, second.PoolKey);
        Assert.Equal(Credits.FromCredits(2.50m), second.PricePerSlotHour);
        Assert.Equal(0, (await _market.Pool(cheapest).GetAsync()).AvailableSlots);
        Assert.Equal(1, (await _market.Pool(next).GetAsync()).AvailableSlots);
    }

    [Fact]
    public async Task Request_honours_the_max_price_and_says_so_when_every_pool_asks_more()
    {
        var region = TestMarket.NewRegion();
        var cheap = await _market.DefinePoolAsync(region, slots: 1, pricePerSlotHour: 1.00m);
        var dear = await _market.DefinePoolAsync(region, slots: 4, pricePerSlotHour: 3.00m);
        var tenant = Tenant.New();

        var fits = await _market.RequestAsync(tenant, new LeaseRequest("h100", 1, 1, region, Credits.FromCredits(1.00m)));
        Assert.Equal(cheap.PoolKey, fits.PoolKey);

        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            _market.RequestAsync(tenant, new LeaseRequest("h100", 2, 1, region, Credits.FromCredits(2.99m))));
        Assert.Equal(MarketError.Conflict, refused.Error);
        Assert.Equal("AboveMaxPrice", refused.Reason);
        Assert.Equal("maxPricePerSlotHour", refused.Field);
        Assert.Equal(4, (await _market.Pool(dear).GetAsync()).AvailableSlots);
    }

    [Fact]
    public async Task A_reservation_cancelled_in_its_pool_frees_its_slots_and_its_lease_grain_shows_it_cancelled()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var lease = await _market.RequestAsync(tenant, TestMarket.Request(pool, slots: 2));

        var notYours = await Assert.ThrowsAsync<MarketException>(() => _market.Pool(pool).CancelAsync(lease.Id, Tenant.New().Address));
        Assert.Equal(MarketError.NotYourLease, notYours.Error);
        Assert.Equal(0, (await _market.Pool(pool).GetAsync()).AvailableSlots);

        var cancelled = await _market.Pool(pool).CancelAsync(lease.Id, tenant.Address);

        Assert.NotNull(cancelled);
        Assert.Equal(LeaseStatus.Cancelled, cancelled.Status);
        Assert.Equal(LeaseReasons.CancelledByTenant, cancelled.History[^1].Reason);
        Assert.Null(await _market.Pool(pool).CancelAsync(lease.Id, tenant.Address));
        Assert.Equal(2, (await _market.Pool(pool).GetAsync()).AvailableSlots);
        await _market.AssertPoolAgreesWithSlotsAsync(pool);
        // Its lease grain, activated later, takes the ended reservation over from the pool's book as it was.
        var stored = await _market.GetLeaseAsync(lease.Id);
        Assert.Equal(cancelled.History, stored.History);
        Assert.Contains(lease.Id, (await _market.Grains.GetGrain<IAccountGrain>(tenant.Address.ToLowerInvariant()).GetAsync()).Leases);
    }

    [Fact]
    public async Task A_lease_id_that_names_no_lease_reads_as_none_and_leaves_no_grain_behind()
    {
        var unknown = Guid.CreateVersion7();

        Assert.Null(await _market.Lease(unknown).GetAsync());
        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Lease(unknown).EndAsync(Tenant.New().Address));

        Assert.Equal((MarketError.NotFound, "UnknownLease"), (refused.Error, refused.Reason));
        await Eventually.UntilAsync(async () => await cluster.Grains.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics(),
            active => !active.Any(g => g.GrainId.ToString().Contains(unknown.ToString("N"))), what: "the empty lease activation to go");
    }

    [Fact]
    public async Task Once_its_lease_grain_has_taken_a_reservation_over_the_pool_leaves_it_to_the_grain()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var lease = await _market.RequestAsync(tenant, TestMarket.Request(pool));

        var taken = await _market.GetLeaseAsync(lease.Id);

        Assert.Equal(lease.History, taken.History);
        Assert.Null(await _market.Pool(pool).CancelAsync(lease.Id, tenant.Address));
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
        var ended = await _market.Lease(lease.Id).EndAsync(tenant.Address);
        Assert.Equal(LeaseStatus.Cancelled, ended.Status);
        Assert.Equal(2, (await _market.Pool(pool).GetAsync()).AvailableSlots);
        await _market.AssertPoolAgreesWithSlotsAsync(pool);
    }

    [Fact]
    public async Task A_reservation_whose_take_over_stopped_before_its_account_heard_of_it_is_still_listed_for_its_tenant()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion());
        var tenant = Tenant.New();
        var lease = await _market.RequestAsync(tenant, TestMarket.Request(pool));

        // The lease grain has stored the lease it takes over when telling its account fails: its activation fails there, as
        // a silo that dies at that point would leave it.
        Faults.FailCalls(nameof(IAccountGrain.AddLeaseAsync), argument => argument is Guid id && id == lease.Id);
        await Assert.ThrowsAnyAsync<Exception>(() => _market.Lease(lease.Id).GetAsync().AsTask());

        // Asked again, it finishes the take-over: the pool lets go of the lease, so the account is where its tenant's list finds it.
        Assert.Equal(LeaseStatus.Reserved, (await _market.Lease(lease.Id).GetAsync())!.Status);
        var account = await _market.Grains.GetGrain<IAccountGrain>(tenant.Address.ToLowerInvariant()).GetAsync();
        Assert.Contains(lease.Id, account.Leases);
    }
}
