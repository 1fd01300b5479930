using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

[Collection(MarketClusterCollection.Name)]
public sealed class DoubleBookingTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    [Fact]
    public async Task Tenants_racing_for_the_last_slots_get_exactly_as_many_leases_as_there_were_free_slots()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 5);
        var early = await _market.ActiveLeaseAsync(Tenant.New(), TestMarket.Request(pool, slots: 2));

        var outcomes = await RaceAsync(32, () => _market.RequestAsync(Tenant.New(), TestMarket.Request(pool)));

        var won = outcomes.OfType<LeaseSnapshot>().ToList();
        var lost = outcomes.OfType<MarketException>().ToList();
        Assert.Equal(3, won.Count);
        Assert.Equal(29, lost.Count);
        Assert.All(lost, e =>
        {
            Assert.Equal(MarketError.Conflict, e.Error);
            Assert.Equal("NoCapacityInWindow", e.Reason);
        });
        Assert.All(won, lease => Assert.Equal(LeaseStatus.Reserved, lease.Status));
        await AssertEachSlotHeldByOneLeaseAsync(pool, [early, .. won]);
        Assert.Equal(0, (await _market.Pool(pool).GetAsync()).AvailableSlots);
    }

    [Fact]
    public async Task Multi_slot_requests_racing_for_a_pool_are_filled_whole_or_not_at_all()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 7);

        var outcomes = await RaceAsync(16, () => _market.RequestAsync(Tenant.New(), TestMarket.Request(pool, slots: 3)));

        var won = outcomes.OfType<LeaseSnapshot>().ToList();
        Assert.Equal(2, won.Count);
        Assert.All(outcomes.OfType<MarketException>(), e => Assert.Equal("NoCapacityInWindow", e.Reason));
        Assert.All(won, lease => Assert.Equal(3, lease.SlotKeys.Count));
        await AssertEachSlotHeldByOneLeaseAsync(pool, won);
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
    }

    [Fact]
    public async Task Funding_and_cancelling_a_lease_at_the_same_moment_never_leaves_a_slot_held()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        for (var i = 0; i < 8; i++)
        {
            var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool, slots: 2));
            await Task.WhenAll(
                _market.FundAsync(reserved, tenant),
                _market.Lease(reserved.Id).EndAsync(tenant.Address));
            var lease = await _market.GetLeaseAsync(reserved.Id);
            // Funded first: Active, then ended. Cancelled first: the late funding fails it.
            Assert.Contains(lease.Status, new[] { LeaseStatus.Ended, LeaseStatus.Failed });
            Assert.Empty((await _market.Pool(pool).GetAsync()).Holders);
            await _market.AssertPoolAgreesWithSlotsAsync(pool);
        }
    }

    private static async Task<IReadOnlyList<object>> RaceAsync(int tenants, Func<Task<LeaseSnapshot>> request)
    {
        using var start = new ManualResetEventSlim();
        var racers = Enumerable.Range(0, tenants).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            try { return (object)await request(); }
            catch (MarketException e) { return e; }
        })).ToList();
        start.Set();
        return await Task.WhenAll(racers);
    }

    private async Task AssertEachSlotHeldByOneLeaseAsync(PoolDefinition pool, IReadOnlyList<LeaseSnapshot> leases)
    {
        var claimed = leases.SelectMany(l => l.SlotKeys).ToList();
        Assert.Equal(claimed.Count, claimed.Distinct().Count());
        var (snapshot, slots) = await _market.ReadPoolAsync(pool);
        TestMarket.AssertAgree(pool, snapshot, slots);
        foreach (var lease in leases)
        foreach (var slotKey in lease.SlotKeys)
        {
            var index = MarketKeys.ParseSlot(slotKey).Index;
            Assert.Equal(lease.Id, snapshot.Holders[index]);
            Assert.Equal(lease.Id, slots[index].LeaseId);
        }
        Assert.Equal(claimed.Count, snapshot.Holders.Count);
    }
}
