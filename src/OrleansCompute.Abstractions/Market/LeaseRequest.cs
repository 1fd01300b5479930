namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// What a tenant asks for: <see cref="Slots"/> accelerators of <see cref="Kind"/> for <see cref="Hours"/>, starting now
/// or at <see cref="Start"/> (a reserved block),
/// optionally in one <see cref="Region"/>, at most <see cref="MaxPricePerSlotHour"/>, or at the price of <see cref="QuoteId"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.lease-request")]
public sealed record LeaseRequest(
    [property: Id(0)] string Kind,
    [property: Id(1)] int Slots,
    [property: Id(2)] int Hours,
    [property: Id(3)] string? Region = null,
    [property: Id(4)] Credits? MaxPricePerSlotHour = null,
    [property: Id(5)] string? QuoteId = null,
    [property: Id(6)] DateTimeOffset? Start = null);
