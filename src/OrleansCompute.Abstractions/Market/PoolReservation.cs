namespace OrleansCompute.Abstractions.Market;

/// <summary>The slots one pool holds for a lease, and the terms it holds them at.</summary>
[GenerateSerializer, Immutable, Alias("occ.pool-reservation")]
public sealed record PoolReservation(
    [property: Id(0)] string PoolKey,
    [property: Id(1)] string ProviderId,
    [property: Id(2)] string PayoutAddress,
    [property: Id(3)] string Kind,
    [property: Id(4)] string Region,
    [property: Id(5)] Credits PricePerSlotHour,
    [property: Id(6)] IReadOnlyList<string> SlotKeys);
