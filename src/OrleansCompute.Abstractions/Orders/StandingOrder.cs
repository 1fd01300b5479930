using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Abstractions.Orders;

public enum OrderStatus { Open, Filled, Cancelled, Expired }

/// <summary>
/// A lease request that rests in its kind's order book until capacity appears or prices fall to its max price,
/// then becomes a reserved lease (<see cref="LeaseId"/>) for the tenant to fund. Its <see cref="Id"/> is a
/// <see cref="ScopedIds"/> id naming the kind's book.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.standing-order")]
public sealed record StandingOrder(
    [property: Id(0)] string Id,
    [property: Id(1)] string Tenant,
    [property: Id(2)] LeaseRequest Request,
    [property: Id(3)] DateTimeOffset PlacedAt,
    [property: Id(4)] DateTimeOffset ExpiresAt,
    [property: Id(5)] OrderStatus Status,
    [property: Id(6)] Guid? LeaseId = null,
    [property: Id(7)] string? Reason = null);

/// <summary>The body of <c>POST /api/orders</c>: the lease wanted, and how long the order may rest.</summary>
public sealed record PlaceOrderRequest(LeaseRequest Lease, int ValidForMinutes = 60);
