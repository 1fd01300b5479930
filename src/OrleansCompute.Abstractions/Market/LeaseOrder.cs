namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// A validated request for one kind, as the market hands it to a pool: who asks, what, and the window to book, held
/// until <see cref="FundBy"/>, counted from <see cref="RequestedAt"/>. <see cref="Request"/> carries the kind, slots, caps, quote and partial-fill minimum.
/// </summary>
/// <param name="LeaseId">
/// The id the lease is to have, chosen by a standing order's book before it asks, so that asking again finds the lease
/// instead of booking a second one (see <see cref="IPoolGrain.ReserveAsync"/>). Null on a tenant's own request, whose id
/// the pool picks: it is never taken from a tenant (a <see cref="LeaseRequest"/> has no such field).
/// </param>
/// <param name="Funds">
/// What the tenant can pay a deposit from (its wallet and its balance in the escrow), as the host read it on the chain when
/// the request came: a pool books only as many slots as that pays for. Null when nobody read it: a standing order's fill,
/// which its tenant funds later, and requests made inside the silo.
/// </param>
[GenerateSerializer, Immutable, Alias("occ.lease-order")]
public sealed record LeaseOrder(
    [property: Id(0)] string Tenant,
    [property: Id(1)] LeaseRequest Request,
    [property: Id(2)] LeaseWindow Window,
    [property: Id(3)] DateTimeOffset FundBy,
    [property: Id(4)] DateTimeOffset? StartsAt,
    [property: Id(5)] DateTimeOffset RequestedAt,
    [property: Id(6)] Guid? LeaseId = null,
    [property: Id(7)] Credits? Funds = null);
