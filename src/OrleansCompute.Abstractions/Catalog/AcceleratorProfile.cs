namespace OrleansCompute.Abstractions.Catalog;

/// <summary>
/// What one accelerator is: the figures a tenant compares across vendors.
/// <see cref="TokensPerSecond"/> is aggregate decode throughput for <see cref="ReferenceModel"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.accelerator-profile")]
public sealed record AcceleratorProfile(
    [property: Id(0)] string Kind,
    [property: Id(1)] string Vendor,
    [property: Id(2)] string Name,
    [property: Id(3)] int MemoryGiB,
    [property: Id(4)] int TokensPerSecond,
    [property: Id(5)] string ReferenceModel,
    [property: Id(6)] int BoardPowerWatts,
    [property: Id(7)] Credits ListPricePerHour,
    [property: Id(8)] string Source)
{
    /// <summary>What a million tokens cost at <paramref name="pricePerSlotHour"/>, rounded up to the unit.</summary>
    public Credits PricePerMillionTokens(Credits pricePerSlotHour)
    {
        var tokensPerHour = (decimal)TokensPerSecond * 3600;
        return Credits.FromUnits((long)decimal.Ceiling(pricePerSlotHour.Units * 1_000_000m / tokensPerHour));
    }

    /// <summary>Energy drawn for a million tokens at full board power, in watt-hours.</summary>
    public decimal EnergyWhPerMillionTokens =>
        decimal.Round(BoardPowerWatts * 1_000_000m / (TokensPerSecond * 3600m), 2);
}
