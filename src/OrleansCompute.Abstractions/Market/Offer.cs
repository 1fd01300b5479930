using OrleansCompute.Abstractions.Catalog;

namespace OrleansCompute.Abstractions.Market;

/// <summary>What a pool offers now, with the figures to compare it against other kinds.</summary>
[GenerateSerializer, Immutable, Alias("occ.offer")]
public sealed record Offer(
    [property: Id(0)] string PoolKey,
    [property: Id(1)] string ProviderId,
    [property: Id(2)] string Kind,
    [property: Id(3)] string Region,
    [property: Id(4)] int AvailableSlots,
    [property: Id(5)] int TotalSlots,
    [property: Id(6)] Credits PricePerSlotHour,
    [property: Id(7)] Credits PricePerMillionTokens,
    [property: Id(8)] decimal EnergyWhPerMillionTokens,
    [property: Id(9)] AcceleratorProfile Accelerator);
