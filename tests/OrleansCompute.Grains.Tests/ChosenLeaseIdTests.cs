using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>
/// A lease id an order book chose before asking is booked at most once in the whole market, for its tenant, and only
/// while the ask is fresh: what lets a book that lost its answer ask again, or look the lease up, without filling twice.
/// </summary>
[Collection(MarketClusterCollection.Name)]
public sealed class ChosenLeaseIdTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    private static LeaseOrder Order(PoolDefinition pool, Tenant tenant, Guid leaseId, DateTimeOffset? requestedAt = null)
    {
        var now = requestedAt ?? DateTimeOffset.UtcNow;
        var fundBy = now + ClusterFixture.FundingWindow;
        return new LeaseOrder(tenant.Address.ToLowerInvariant(), TestMarket.Request(pool), new LeaseWindow(now, fundBy + TimeSpan.FromHours(1)),
            fundBy, StartsAt: null, now, leaseId);
    }

    private async Task<IReadOnlyList<Guid>> BookedLeasesAsync(PoolDefinition pool) =>
        (await _market.Pool(pool).GetAsync()).Bookings.Values.SelectMany(b => b).Select(b => b.LeaseId).Distinct().ToList();

    [Fact]
    public async Task A_pool_asked_again_for_a_lease_id_it_booked_answers_with_that_lease_and_books_nothing_more()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var leaseId = Guid.CreateVersion7();

        var first = await _market.Pool(pool).ReserveAsync(Order(pool, tenant, leaseId));
        var again = await _market.Pool(pool).ReserveAsync(Order(pool, tenant, leaseId));

        Assert.Equal((leaseId, leaseId), (first!.Id, again!.Id));
        Assert.Equal(first.SlotKeys, again.SlotKeys);
        Assert.Equal([leaseId], await BookedLeasesAsync(pool));
    }

    [Fact]
    public async Task Another_pool_asked_for_a_lease_id_the_lease_book_knows_answers_with_that_lease_and_books_nothing()
    {
        var region = TestMarket.NewRegion();
        var (booking, other) = (await _market.DefinePoolAsync(region, slots: 1), await _market.DefinePoolAsync(region, slots: 1));
        var tenant = Tenant.New();
        var leaseId = Guid.CreateVersion7();

        var first = await _market.Pool(booking).ReserveAsync(Order(booking, tenant, leaseId));
        var again = await _market.Pool(other).ReserveAsync(Order(other, tenant, leaseId));

        Assert.Equal((leaseId, booking.PoolKey), (again!.Id, again.PoolKey));
        Assert.Equal(first!.SlotKeys, again.SlotKeys);
        Assert.Empty(await BookedLeasesAsync(other));
    }

    [Fact]
    public async Task A_lease_id_another_tenant_holds_is_refused_and_books_nothing()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var leaseId = Guid.CreateVersion7();
        await _market.Pool(pool).ReserveAsync(Order(pool, Tenant.New(), leaseId));

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Pool(pool).ReserveAsync(Order(pool, Tenant.New(), leaseId)));

        Assert.Equal((MarketError.Conflict, "LeaseIdTaken"), (refused.Error, refused.Reason));
        Assert.Equal([leaseId], await BookedLeasesAsync(pool));
    }

    [Fact]
    public async Task An_ask_for_a_chosen_lease_id_that_arrives_after_the_fence_books_nothing()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var late = DateTimeOffset.UtcNow - ClusterFixture.OrderFillFence - TimeSpan.FromSeconds(1);

        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            _market.Pool(pool).ReserveAsync(Order(pool, Tenant.New(), Guid.CreateVersion7(), requestedAt: late)));

        Assert.Equal((MarketError.Conflict, "FillTooLate"), (refused.Error, refused.Reason));
        Assert.Empty(await BookedLeasesAsync(pool));
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
    }
}
