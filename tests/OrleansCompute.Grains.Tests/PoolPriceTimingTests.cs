using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>
/// A pool's price steps are taken at the utilization that held during them, whenever the pool is next called: a release
/// after a busy spell keeps the rise the spell earned and falls only from then on (fast price steps: 100 ms).
/// </summary>
[Collection(DurableMarketCollection.Name)]
public sealed class PoolPriceTimingTests(DurableClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    [Fact]
    public async Task Ending_a_reservation_after_a_busy_spell_keeps_the_price_the_spell_earned()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2, pricePerSlotHour: 1.00m);
        var tenant = Tenant.New();
        var first = await HoldAsync(pool, tenant);
        await HoldAsync(pool, Tenant.New());

        // Both slots held for several steps while nobody calls the pool; then one is given back.
        await Task.Delay(DurableClusterFixture.PriceStepInterval * 8);
        var cancelled = await _market.Pool(pool).CancelAsync(first.Id, tenant.Address);
        var afterCancel = (await _market.Pool(pool).GetAsync()).PricePerSlotHour;

        Assert.Equal(LeaseStatus.Cancelled, cancelled?.Status);

        // A full pool rises by an eighth a step: at least one step's rise is kept, rather than the steps being taken at
        // the half-full pool that came after them (which holds the price where it was: the floor).
        Assert.True(afterCancel >= Credits.FromCredits(1.125m), $"the price after the busy spell is {afterCancel}");
    }

    /// <summary>
    /// A reservation of one slot booked with the pool itself, held for a minute: the busy spell lasts until the test ends
    /// it, as a reservation through the market would not on a slow machine, its funding window being 1.5 s here.
    /// </summary>
    private async Task<LeaseSnapshot> HoldAsync(PoolDefinition pool, Tenant tenant)
    {
        var now = DateTimeOffset.UtcNow;
        var fundBy = now + TimeSpan.FromMinutes(1);
        var order = new LeaseOrder(tenant.Address.ToLowerInvariant(), TestMarket.Request(pool), new LeaseWindow(now, fundBy + TimeSpan.FromHours(1)),
            fundBy, StartsAt: null, now);
        return (await _market.Pool(pool).ReserveAsync(order))!;
    }
}
