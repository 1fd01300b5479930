namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// What a tenant asks for: <see cref="Slots"/> accelerators of <see cref="Kind"/> (or <c>any</c> kind that meets the
/// constraints) for <see cref="Hours"/>, starting now or at <see cref="Start"/> (a reserved block), optionally in one
/// <see cref="Region"/>, at most <see cref="MaxPricePerSlotHour"/> and/or <see cref="MaxPricePerMillionTokens"/>, or at
/// the price of <see cref="QuoteId"/>; with at least <see cref="MinMemoryGiB"/> and <see cref="MinTokensPerSecond"/> per
/// accelerator, only from <see cref="Providers"/> and never from <see cref="ExcludeProviders"/>. All of the slots come from one
/// pool, all or none, unless <see cref="MinSlots"/> asks for a partial fill: then as many as one pool has, and at least that many.
/// <see cref="BillBy"/> says whether the lease pays for the time it ran or for the tokens its inference used; a token-billed
/// lease with <see cref="VoucherEvery"/> pays as it goes: whenever that much usage is unpaid, inference waits for a voucher.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.lease-request")]
public sealed record LeaseRequest(
    [property: Id(0)] string Kind,
    [property: Id(1)] int Slots,
    [property: Id(2)] int Hours,
    [property: Id(3)] string? Region = null,
    [property: Id(4)] Credits? MaxPricePerSlotHour = null,
    [property: Id(5)] string? QuoteId = null,
    [property: Id(6)] DateTimeOffset? Start = null,
    [property: Id(7)] int? MinMemoryGiB = null,
    [property: Id(8)] int? MinTokensPerSecond = null,
    [property: Id(9)] Credits? MaxPricePerMillionTokens = null,
    [property: Id(10)] IReadOnlyList<string>? Providers = null,
    [property: Id(11)] IReadOnlyList<string>? ExcludeProviders = null,
    [property: Id(12)] int? MinSlots = null,
    [property: Id(13)] LeaseBillingMode BillBy = LeaseBillingMode.Hours,
    [property: Id(14)] Credits? VoucherEvery = null)
{
    /// <summary>The kind that asks the market for the cheapest kind meeting the constraints.</summary>
    public const string AnyKind = "any";
}
