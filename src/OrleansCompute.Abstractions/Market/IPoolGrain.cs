using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// Identical slots of one kind in one region at one price, keyed <c>provider/pool</c>.
/// It keeps its slots' calendars and the leases it reserved until their lease grains take them over, one record per
/// lease in the <see cref="ILeaseBook"/>, so a reservation costs one call to it and one small write.
/// </summary>
public interface IPoolGrain : IGrainWithStringKey
{
    /// <summary>Creates the pool or updates its price and size (never below the slots held), and lists it in its market.</summary>
    Task DefineAsync(PoolDefinition definition);

    /// <summary>
    /// Books the order's window in as many free slots as it asks for, all or none (with <paramref name="partialFill"/>, as
    /// many as are free down to <see cref="LeaseRequest.MinSlots"/>), at the pool's live price or the price its quote promised, and keeps the
    /// new lease until its lease grain takes it over. Null when the pool has too few free slots or asks more than the max price.
    /// An order that names its <see cref="LeaseOrder.LeaseId"/> books that id at most once in the whole market: when this pool
    /// or the lease book already knows the lease for the tenant, that lease is the answer; and it is refused once it is older
    /// than the market's order fill fence, so that an ask nobody waits for any more books nothing.
    /// </summary>
    Task<LeaseSnapshot?> ReserveAsync(LeaseOrder order, bool partialFill = false);

    /// <summary>
    /// Cancels a reservation this pool still keeps, for its tenant only; null when the pool does not keep the lease
    /// (its lease grain has it: ask the lease grain).
    /// </summary>
    Task<LeaseSnapshot?> CancelAsync(Guid leaseId, string tenant);

    /// <summary>
    /// The lease as this pool keeps it, for its lease grain to store; from now on the pool leaves it alone, and once
    /// <see cref="CompleteHandOverAsync"/> says the lease grain stored it, forgets it (keeping only its bookings). Null when the pool keeps no such lease.
    /// </summary>
    Task<LeaseSnapshot?> HandOverAsync(Guid leaseId);

    /// <summary>The lease grain has stored what <see cref="HandOverAsync"/> gave it.</summary>
    Task CompleteHandOverAsync(Guid leaseId);

    /// <summary>
    /// Promises the live price for <paramref name="slots"/> slots free for <paramref name="hours"/> from <paramref name="start"/>
    /// (null: now), for a lease of exactly that, until the quote expires; null when the pool cannot.
    /// </summary>
    Task<Quote?> QuoteAsync(int slots, int hours, DateTimeOffset? start, Credits? maxPricePerSlotHour);

    /// <summary>The earliest start at or after <paramref name="notBefore"/> when <paramref name="slots"/> slots are free for <paramref name="duration"/>.</summary>
    [ReadOnly]
    Task<DateTimeOffset?> EarliestStartAsync(int slots, TimeSpan duration, DateTimeOffset notBefore);

    /// <summary>Confirms the lease's bookings as funded for <paramref name="leased"/>; false (and nothing confirmed) when the lease no longer holds them all.</summary>
    Task<bool> ActivateAsync(Guid leaseId, LeaseWindow leased);

    /// <summary>
    /// Takes slot <paramref name="index"/> out of service: no new bookings; each lease booked on it gets
    /// <paramref name="notice"/>, then moves to a free slot of this pool or ends with a pro-rata bill. Returns those leases.
    /// </summary>
    Task<IReadOnlyList<Guid>> DrainSlotAsync(int index, TimeSpan notice);

    /// <summary>Moves the lease's booking off slot <paramref name="fromIndex"/> to a free slot; the new slot's key, or null when none is free.</summary>
    Task<string?> MoveAsync(Guid leaseId, int fromIndex);

    /// <summary>Frees every slot the lease holds.</summary>
    Task ReleaseAsync(Guid leaseId);

    [ReadOnly]
    ValueTask<PoolSnapshot> GetAsync();

    /// <summary>Slot <paramref name="index"/>: who holds it now and its calendar.</summary>
    [ReadOnly]
    ValueTask<SlotSnapshot> GetSlotAsync(int index);
}
