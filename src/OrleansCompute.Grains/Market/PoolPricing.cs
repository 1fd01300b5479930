using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

/// <summary>
/// A pool's live price, in the manner of EIP-1559's base fee: once per step interval (the "block"), the price moves
/// toward demand by at most one eighth, up when more than half the pool was held, down when less, and never
/// leaves [floor, ceiling]. A busy pool gets dearer, an idle one cheaper, even when nobody calls it.
/// </summary>
public static class PoolPricing
{
    public const decimal TargetUtilization = 0.5m;

    /// <summary>The largest change in one step, as a fraction of the price.</summary>
    public const decimal MaxStep = 0.125m;

    /// <summary>More steps than it takes to cross from floor to ceiling and back: a longer gap changes nothing more.</summary>
    private const int MaxStepsAtOnce = 256;

    /// <summary>The price after <paramref name="steps"/> intervals during which <paramref name="heldSlots"/> slots were held.</summary>
    public static Credits Advance(Credits price, PoolDefinition pool, int heldSlots, long steps)
    {
        var utilization = (decimal)heldSlots / pool.SlotCount;
        var step = Math.Clamp((utilization - TargetUtilization) / TargetUtilization * MaxStep, -MaxStep, MaxStep);
        price = Clamp(price, pool);
        for (var i = 0; i < Math.Min(steps, MaxStepsAtOnce) && step != 0; i++)
        {
            var next = Clamp(Credits.FromUnits((long)decimal.Round(price.Units * (1 + step), MidpointRounding.AwayFromZero)), pool);
            if (next == price) break;
            price = next;
        }
        return price;
    }

    public static Credits Clamp(Credits price, PoolDefinition pool) =>
        price < pool.FloorPricePerSlotHour ? pool.FloorPricePerSlotHour
        : price > pool.Ceiling ? pool.Ceiling
        : price;
}
