namespace OrleansCompute.Abstractions.Market;

/// <summary>A pool as its grain holds it; <see cref="Holders"/> maps slot index to the lease holding it.</summary>
[GenerateSerializer, Immutable, Alias("occ.pool-snapshot")]
public sealed record PoolSnapshot(
    [property: Id(0)] string Key,
    [property: Id(1)] PoolDefinition? Definition,
    [property: Id(2)] int AvailableSlots,
    [property: Id(3)] IReadOnlyDictionary<int, Guid> Holders,
    [property: Id(4)] Credits PricePerSlotHour);

/// <summary>What a pool tells its market after every change: its live price and free capacity.</summary>
[GenerateSerializer, Immutable, Alias("occ.pool-status")]
public sealed record PoolStatus(
    [property: Id(0)] string PoolKey,
    [property: Id(1)] Credits PricePerSlotHour,
    [property: Id(2)] int AvailableSlots);
