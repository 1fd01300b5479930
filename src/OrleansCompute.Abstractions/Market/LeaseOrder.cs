namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// A validated request for one kind, as the market hands it to a pool: who asks, what, and the window to book, held
/// until <see cref="FundBy"/>, counted from <see cref="RequestedAt"/>. <see cref="Request"/> carries the kind, slots, caps, quote and partial-fill minimum.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.lease-order")]
public sealed record LeaseOrder(
    [property: Id(0)] string Tenant,
    [property: Id(1)] LeaseRequest Request,
    [property: Id(2)] LeaseWindow Window,
    [property: Id(3)] DateTimeOffset FundBy,
    [property: Id(4)] DateTimeOffset? StartsAt,
    [property: Id(5)] DateTimeOffset RequestedAt);
