using CsCheck;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Market;

namespace OrleansCompute.Grains.Tests;

/// <summary>The live price rule: bounded, at most one eighth per step, and in the direction of demand.</summary>
public sealed class PoolPricingTests
{
    private static readonly Gen<(PoolDefinition Pool, Credits Price, int Held, int Steps)> Cases =
        from floor in Gen.Long[1, 5_000_000_000]
        from ceilingMultiple in Gen.Int[1, 8]
        from slots in Gen.Int[1, 64]
        from held in Gen.Int[0, slots]
        from price in Gen.Long[0, floor * 10]
        from steps in Gen.Int[0, 300]
        select (new PoolDefinition("p", "pool", "h100", "r", slots, Credits.FromUnits(floor), "0x0000000000000000000000000000000000000001",
            Credits.FromUnits(floor * ceilingMultiple)), Credits.FromUnits(price), held, steps);

    [Fact]
    public void The_price_never_leaves_the_pools_bounds() =>
        Cases.Sample(c =>
        {
            var next = PoolPricing.Advance(c.Price, c.Pool, c.Held, c.Steps);
            return next >= c.Pool.FloorPricePerSlotHour && next <= c.Pool.Ceiling;
        });

    [Fact]
    public void One_step_moves_at_most_an_eighth_and_toward_demand() =>
        Cases.Sample(c =>
        {
            var start = PoolPricing.Clamp(c.Price, c.Pool);
            var next = PoolPricing.Advance(start, c.Pool, c.Held, steps: 1);
            var change = next.Units - start.Units;
            var bounded = Math.Abs(change) <= start.Units / 8 + 1;
            // Twice the slots held beyond half the pool: its sign is the way demand pulls, 0 when it pulls neither way.
            var imbalance = 2 * c.Held - c.Pool.SlotCount;
            var roomToMove = imbalance > 0 ? start < c.Pool.Ceiling : imbalance < 0 && start > c.Pool.FloorPricePerSlotHour;
            // The step grows with the imbalance, an eighth of imbalance / slots: at this price that is a unit or more, so
            // rounding cannot swallow it and a price that stays put is wrong.
            var visible = start.Units * Math.Abs(imbalance) >= 8L * c.Pool.SlotCount;
            var direction = change == 0 ? !(roomToMove && visible) : Math.Sign(change) == Math.Sign(imbalance);
            return bounded && direction;
        });

    [Fact]
    public void A_full_pool_climbs_to_its_ceiling_and_an_idle_one_falls_to_its_floor()
    {
        var pool = new PoolDefinition("p", "pool", "h100", "r", 8, Credits.FromCredits(2m), "0x0000000000000000000000000000000000000001");

        Assert.Equal(pool.Ceiling, PoolPricing.Advance(pool.FloorPricePerSlotHour, pool, heldSlots: 8, steps: 100));
        Assert.Equal(pool.FloorPricePerSlotHour, PoolPricing.Advance(pool.Ceiling, pool, heldSlots: 0, steps: 100));
        Assert.Equal(Credits.FromCredits(2.25m), PoolPricing.Advance(pool.FloorPricePerSlotHour, pool, heldSlots: 8, steps: 1));
    }
}
