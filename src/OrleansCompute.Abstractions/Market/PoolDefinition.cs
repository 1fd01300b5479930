namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// A provider's pool: <see cref="SlotCount"/> identical accelerators of one kind in one region. Its price moves with
/// utilization between <see cref="FloorPricePerSlotHour"/> and <see cref="CeilingPricePerSlotHour"/> (default 4 × the floor).
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.pool-definition")]
public sealed record PoolDefinition(
    [property: Id(0)] string ProviderId,
    [property: Id(1)] string PoolName,
    [property: Id(2)] string Kind,
    [property: Id(3)] string Region,
    [property: Id(4)] int SlotCount,
    [property: Id(5)] Credits FloorPricePerSlotHour,
    [property: Id(6)] string PayoutAddress,
    [property: Id(7)] Credits? CeilingPricePerSlotHour = null)
{
    public const int DefaultCeilingMultiple = 4;

    public string PoolKey => MarketKeys.Pool(ProviderId, PoolName);

    public Credits Ceiling => CeilingPricePerSlotHour ?? Credits.FromUnits(checked(FloorPricePerSlotHour.Units * DefaultCeilingMultiple));
}
