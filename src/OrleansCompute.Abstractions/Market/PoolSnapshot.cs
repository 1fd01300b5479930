namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// A pool as its grain holds it: <see cref="Bookings"/> per slot index, <see cref="Holders"/> the lease holding each slot now.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.pool-snapshot")]
public sealed record PoolSnapshot(
    [property: Id(0)] string Key,
    [property: Id(1)] PoolDefinition? Definition,
    [property: Id(2)] int AvailableSlots,
    [property: Id(3)] IReadOnlyDictionary<int, Guid> Holders,
    [property: Id(4)] Credits PricePerSlotHour,
    [property: Id(5)] IReadOnlyDictionary<int, IReadOnlyList<SlotBooking>> Bookings,
    [property: Id(6)] IReadOnlyList<int> Draining);

/// <summary>What a pool tells its market after every change: its live price and free capacity.</summary>
[GenerateSerializer, Immutable, Alias("occ.pool-status")]
public sealed record PoolStatus(
    [property: Id(0)] string PoolKey,
    [property: Id(1)] Credits PricePerSlotHour,
    [property: Id(2)] int AvailableSlots);
