using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

/// <summary>Which pools a request may go to and which look worth asking first: one rule for the market and the routers.</summary>
internal static class PoolChoice
{
    /// <summary>In the request's region and allowed by its provider lists.</summary>
    public static bool Matches(PoolDefinition pool, LeaseRequest request) =>
        (request.Region is null || pool.Region == request.Region)
        && (request.Providers is not { Count: > 0 } allowed || allowed.Contains(pool.ProviderId))
        && (request.ExcludeProviders is not { } excluded || !excluded.Contains(pool.ProviderId));

    /// <summary>Last reported room for the request at a price within it.</summary>
    public static bool Promising(PoolStatus status, LeaseRequest request) =>
        status.AvailableSlots >= request.Slots && (request.MaxPricePerSlotHour is not { } max || status.PricePerSlotHour <= max);

    /// <summary>What a pool that has not reported yet is taken to have: every slot free, at its floor price.</summary>
    public static PoolStatus Unreported(PoolDefinition pool) => new(pool.PoolKey, pool.FloorPricePerSlotHour, pool.SlotCount);
}
