namespace OrleansCompute.Abstractions.Market;

/// <summary>A pool as its grain holds it; <see cref="Holders"/> maps slot index to the lease holding it.</summary>
[GenerateSerializer, Immutable, Alias("occ.pool-snapshot")]
public sealed record PoolSnapshot(
    [property: Id(0)] string Key,
    [property: Id(1)] PoolDefinition? Definition,
    [property: Id(2)] int AvailableSlots,
    [property: Id(3)] IReadOnlyDictionary<int, Guid> Holders);
