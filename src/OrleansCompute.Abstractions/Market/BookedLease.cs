using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// A pool's record of one lease, kept in the <see cref="ILeaseBook"/>: the slots it books and for when, and, while the
/// pool is still the lease's home (reserved and not yet handed to its lease grain, or ended before that), the lease itself.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.booked-lease")]
public sealed record BookedLease(
    [property: Id(0)] Guid LeaseId,
    [property: Id(1)] string PoolKey,
    [property: Id(2)] IReadOnlyList<int> Slots,
    [property: Id(3)] LeaseWindow Window,
    [property: Id(4)] DateTimeOffset? HoldUntil,
    [property: Id(5)] LeaseSnapshot? Lease)
{
    /// <summary>The pool still needs it when it activates: it books slots, or it is a reservation the pool keeps.</summary>
    public bool IsLive => Slots.Count > 0 || Lease is { Status: LeaseStatus.Reserved };
}
