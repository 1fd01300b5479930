using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Orders;
using Orleans.Core.Internal;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>Standing orders rest until capacity appears, fill in price-time priority, can be cancelled, and expire.</summary>
[Collection(MarketClusterCollection.Name)]
public sealed class OrderBookTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    private IOrderBookGrain Book(string kind = "mi300x") => _market.Grains.GetGrain<IOrderBookGrain>(kind);

    /// <summary>
    /// A pool of one slot, held by a running lease until its owner ends it: an unfunded reservation would free the slot by
    /// itself when its funding window (2 s) passes, which a slow machine reaches while an order waits on the book's timer.
    /// </summary>
    private async Task<(PoolDefinition Pool, LeaseSnapshot Blocker, Tenant Owner)> FullPoolAsync()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1, pricePerSlotHour: 2.00m, kind: "mi300x");
        var owner = Tenant.New();
        var blocker = await _market.ActiveLeaseAsync(owner, TestMarket.Request(pool));
        return (pool, blocker, owner);
    }

    private async Task<StandingOrder> WaitForAsync(StandingOrder order, Func<StandingOrder, bool> done)
    {
        ScopedIds.TryParse(order.Id, out var id, out var kind);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var current = (await Book(kind).GetAsync(id))!;
            if (done(current)) return current;
            Assert.True(DateTime.UtcNow < deadline, $"order still {current.Status} ({current.Reason})");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task An_order_rests_while_the_pool_is_full_and_fills_into_a_reserved_lease_when_a_slot_frees()
    {
        var (pool, blocker, owner) = await FullPoolAsync();
        var tenant = Tenant.New();

        var placed = await Book().PlaceAsync(tenant.Address, TestMarket.Request(pool), TimeSpan.FromMinutes(10));
        Assert.Equal((OrderStatus.Open, "NoCapacityInWindow"), (placed.Status, placed.Reason));

        await _market.Lease(blocker.Id).EndAsync(owner.Address);
        var filled = await WaitForAsync(placed, o => o.Status != OrderStatus.Open);

        Assert.Equal(OrderStatus.Filled, filled.Status);
        var lease = (await _market.Lease(filled.LeaseId!.Value).GetAsync())!;
        Assert.Equal((tenant.Address.ToLowerInvariant(), pool.PoolKey), (lease.Tenant, lease.PoolKey));
        // Reserved for the tenant to fund: its history, as it may have lapsed since on a slow machine (a 2 s funding window).
        Assert.Equal([LeaseStatus.Requested, LeaseStatus.Reserved], lease.History.Take(2).Select(t => t.Status));
        Assert.Contains(placed.Id, (await _market.Grains.GetGrain<Abstractions.Accounts.IAccountGrain>(tenant.Address.ToLowerInvariant()).GetAsync()).Orders);
    }

    [Fact]
    public async Task A_fill_whose_write_failed_is_written_at_the_next_try_so_the_book_never_reopens_the_order()
    {
        var (pool, blocker, owner) = await FullPoolAsync();
        var tenant = Tenant.New();
        var placed = await Book().PlaceAsync(tenant.Address, TestMarket.Request(pool), TimeSpan.FromMinutes(10));
        Assert.Equal(OrderStatus.Open, placed.Status);

        // The book's next write, the one that records the fill, fails: the lease is reserved, the order's fill not stored.
        Faults.FailWrites("orderbook/mi300x");
        await _market.Lease(blocker.Id).EndAsync(owner.Address);
        var filled = await WaitForAsync(placed, o => o.Status != OrderStatus.Open);
        Assert.Equal(OrderStatus.Filled, filled.Status);

        // Later the book leaves memory (idle, or its silo stops) and comes back from what it stored: the order is the
        // filled one, naming the same lease, and not an open order to fill again.
        await Task.Delay(TimeSpan.FromMilliseconds(600));
        await Book().AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        await Task.Delay(TimeSpan.FromMilliseconds(600));
        var stored = await WaitForAsync(placed, _ => true);
        Assert.Equal((OrderStatus.Filled, filled.LeaseId), (stored.Status, stored.LeaseId));
    }

    /// <summary>
    /// Every lease the tenant has, wherever it is kept and whatever its state: an order filled twice shows two. (Not the
    /// pool's bookings, which a reservation leaves when its funding window passes, as it may on a slow machine.)
    /// </summary>
    private async Task<IReadOnlyList<Guid>> LeasesOfAsync(Tenant tenant) =>
        (await cluster.Leases.ListAsync(tenant.Address)).Select(l => l.Id).ToList();

    /// <summary>The book's writes that record an order of <paramref name="tenant"/> Filled: those, and not the ones before them.</summary>
    private static Func<object?, bool> RecordsFillOf(Tenant tenant) => state =>
        state is Orders.OrderBookState book && book.Orders.Values.Any(o => o.Tenant == tenant.Address.ToLowerInvariant() && o.Status == OrderStatus.Filled);

    [Fact]
    public async Task A_fill_booked_just_before_the_book_stopped_is_found_when_it_comes_back_and_never_booked_twice()
    {
        // Two free slots: an order the book reopened would fill again at once.
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2, pricePerSlotHour: 2.00m, kind: "mi300x");
        var tenant = Tenant.New();

        StandingOrder placed;
        // The pool books the fill and stores it; every write of the book that would record the fill fails, and the book
        // stops before one succeeds: its host died between the pool's write and its own.
        using (Faults.FailWrites("orderbook/mi300x", RecordsFillOf(tenant), times: int.MaxValue))
        {
            placed = await Book().PlaceAsync(tenant.Address, TestMarket.Request(pool), TimeSpan.FromMinutes(10));
            Assert.Equal(OrderStatus.Filled, placed.Status);
            await Book().AsReference<IGrainManagementExtension>().DeactivateOnIdle();
            await Task.Delay(TimeSpan.FromMilliseconds(600));
        }

        var stored = await WaitForAsync(placed, o => o.Status != OrderStatus.Open);
        // Long enough for a book that reopened the order to have filled it again.
        await Task.Delay(TimeSpan.FromMilliseconds(600));
        stored = await WaitForAsync(placed, _ => true);

        Assert.Equal((OrderStatus.Filled, placed.LeaseId), (stored.Status, stored.LeaseId));
        Assert.Equal([placed.LeaseId!.Value], await LeasesOfAsync(tenant));
        var lease = (await cluster.Leases.GetAsync(placed.LeaseId.Value))!;
        Assert.Equal((tenant.Address.ToLowerInvariant(), pool.PoolKey), (lease.Tenant, lease.PoolKey));
    }

    [Fact]
    public async Task A_fill_whose_answer_was_lost_is_found_and_never_booked_twice()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2, pricePerSlotHour: 2.00m, kind: "mi300x");
        var tenant = Tenant.New();
        var address = tenant.Address.ToLowerInvariant();

        // The market books the fill, and its answer never reaches the book.
        Faults.FailCalls("ReserveAsync", argument => argument is LeaseOrder order && order.Tenant == address, afterRunning: true);
        var placed = await Book().PlaceAsync(tenant.Address, TestMarket.Request(pool), TimeSpan.FromMinutes(10));

        var filled = await WaitForAsync(placed, o => o.Status != OrderStatus.Open);
        await Task.Delay(TimeSpan.FromMilliseconds(600));
        filled = await WaitForAsync(placed, _ => true);

        Assert.Equal(OrderStatus.Filled, filled.Status);
        Assert.Equal([filled.LeaseId!.Value], await LeasesOfAsync(tenant));
    }

    [Fact]
    public async Task An_order_whose_placing_was_not_stored_is_refused_and_never_rests_or_fills()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1, pricePerSlotHour: 2.00m, kind: "mi300x");
        var tenant = Tenant.New();

        Faults.FailWrites("orderbook/mi300x");
        await Assert.ThrowsAnyAsync<Exception>(() => Book().PlaceAsync(tenant.Address, TestMarket.Request(pool), TimeSpan.FromMinutes(10)));

        await Task.Delay(TimeSpan.FromMilliseconds(600));
        Assert.DoesNotContain(await Book().ListAsync(), o => o.Tenant == tenant.Address.ToLowerInvariant());
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
    }

    [Fact]
    public async Task Orders_fill_highest_max_price_first_then_earliest()
    {
        var (pool, blocker, owner) = await FullPoolAsync();
        var (cheap, early, late) = (Tenant.New(), Tenant.New(), Tenant.New());
        var cheapOrder = await Book().PlaceAsync(cheap.Address, TestMarket.Request(pool) with { MaxPricePerSlotHour = Credits.FromCredits(3m) }, TimeSpan.FromMinutes(10));
        var earlyOrder = await Book().PlaceAsync(early.Address, TestMarket.Request(pool) with { MaxPricePerSlotHour = Credits.FromCredits(5m) }, TimeSpan.FromMinutes(10));
        var lateOrder = await Book().PlaceAsync(late.Address, TestMarket.Request(pool) with { MaxPricePerSlotHour = Credits.FromCredits(5m) }, TimeSpan.FromMinutes(10));

        await _market.Lease(blocker.Id).EndAsync(owner.Address);
        var first = await WaitForAsync(earlyOrder, o => o.Status == OrderStatus.Filled);
        Assert.Equal(OrderStatus.Open, (await WaitForAsync(lateOrder, _ => true)).Status);

        await _market.Lease(first.LeaseId!.Value).EndAsync(early.Address);
        var second = await WaitForAsync(lateOrder, o => o.Status == OrderStatus.Filled);
        Assert.Equal(OrderStatus.Open, (await WaitForAsync(cheapOrder, _ => true)).Status);

        await _market.Lease(second.LeaseId!.Value).EndAsync(late.Address);
        Assert.Equal(OrderStatus.Filled, (await WaitForAsync(cheapOrder, o => o.Status == OrderStatus.Filled)).Status);
    }

    [Fact]
    public async Task Only_the_tenant_cancels_its_own_open_order_and_a_filled_one_cannot_be_cancelled()
    {
        var (pool, _, _) = await FullPoolAsync();
        var tenant = Tenant.New();
        var order = await Book().PlaceAsync(tenant.Address, TestMarket.Request(pool), TimeSpan.FromMinutes(10));
        ScopedIds.TryParse(order.Id, out var id, out _);

        var stranger = await Assert.ThrowsAsync<MarketException>(() => Book().CancelAsync(Tenant.New().Address, id));
        Assert.Equal(MarketError.NotYourLease, stranger.Error);
        Assert.Equal(OrderStatus.Open, (await Book().GetAsync(id))!.Status);

        Assert.Equal(OrderStatus.Cancelled, (await Book().CancelAsync(tenant.Address, id)).Status);
        var again = await Assert.ThrowsAsync<MarketException>(() => Book().CancelAsync(tenant.Address, id));
        Assert.Equal(("OrderNotOpen", MarketError.Conflict), (again.Reason, again.Error));
    }

    [Fact]
    public async Task An_order_that_never_fills_expires()
    {
        var (pool, _, _) = await FullPoolAsync();

        var order = await Book().PlaceAsync(Tenant.New().Address, TestMarket.Request(pool), TimeSpan.FromSeconds(1));

        Assert.Equal(OrderStatus.Expired, (await WaitForAsync(order, o => o.Status != OrderStatus.Open)).Status);
    }

    [Theory]
    [InlineData("lease.maxPricePerSlotHour")]
    [InlineData("validForMinutes")]
    [InlineData("lease.start")]
    [InlineData("lease.kind")]
    [InlineData("lease.slots")]
    public async Task A_bad_order_is_refused_naming_the_field_as_the_order_body_does_and_nothing_rests(string field)
    {
        var (pool, _, _) = await FullPoolAsync();
        var request = TestMarket.Request(pool);
        var (bad, validFor) = field switch
        {
            "lease.maxPricePerSlotHour" => (request with { MaxPricePerSlotHour = Credits.Zero }, TimeSpan.FromMinutes(1)),
            "validForMinutes" => (request, TimeSpan.Zero),
            "lease.start" => (request with { Start = DateTimeOffset.UtcNow.AddDays(-1) }, TimeSpan.FromMinutes(1)),
            "lease.slots" => (request with { Slots = 99 }, TimeSpan.FromMinutes(1)),
            _ => (request with { Kind = "h100" }, TimeSpan.FromMinutes(1)),
        };
        var tenant = Tenant.New();

        var refused = await Assert.ThrowsAsync<MarketException>(() => Book().PlaceAsync(tenant.Address, bad, validFor));

        Assert.Equal(field, refused.Field);
        Assert.DoesNotContain(await Book().ListAsync(), o => o.Tenant == tenant.Address.ToLowerInvariant());
    }

    [Fact]
    public async Task A_lifetime_out_of_range_is_refused_in_the_minutes_tenants_send()
    {
        var (pool, _, _) = await FullPoolAsync();

        var refused = await Assert.ThrowsAsync<MarketException>(() => Book().PlaceAsync(Tenant.New().Address, TestMarket.Request(pool), TimeSpan.FromDays(8)));

        Assert.Equal(("validForMinutes", "OutOfRange"), (refused.Field, refused.Reason));
        Assert.Contains("from 1 minute to 10080 minutes (7 days)", refused.Message);
    }
}
