namespace OrleansCompute.Abstractions.Market;

/// <summary>A provider's pool: <see cref="SlotCount"/> identical accelerators of one kind in one region at one price.</summary>
[GenerateSerializer, Immutable, Alias("occ.pool-definition")]
public sealed record PoolDefinition(
    [property: Id(0)] string ProviderId,
    [property: Id(1)] string PoolName,
    [property: Id(2)] string Kind,
    [property: Id(3)] string Region,
    [property: Id(4)] int SlotCount,
    [property: Id(5)] Credits PricePerSlotHour,
    [property: Id(6)] string PayoutAddress)
{
    public string PoolKey => MarketKeys.Pool(ProviderId, PoolName);
}
