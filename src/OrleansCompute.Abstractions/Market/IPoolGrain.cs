namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// Identical slots of one kind in one region at one price, keyed <c>provider/pool</c>.
/// Reservations of its slots go through the pool, so it knows its free capacity without asking every slot.
/// </summary>
public interface IPoolGrain : IGrainWithStringKey
{
    /// <summary>Creates the pool or updates its price and size (never below the slots held), and lists it in its market.</summary>
    Task DefineAsync(PoolDefinition definition);

    /// <summary>
    /// Books <paramref name="slots"/> slots free for all of <paramref name="window"/> for the lease, all or none, at the pool's
    /// live price; null when the pool has not that many free in the window or its price is above <paramref name="maxPricePerSlotHour"/>.
    /// With <paramref name="minSlots"/>, a partial fill: as many free slots as it has up to <paramref name="slots"/>, null below <paramref name="minSlots"/>.
    /// With <paramref name="quoteId"/>, the quoted price is paid, and an unknown or expired quote is refused.
    /// </summary>
    Task<PoolReservation?> ReserveAsync(Guid leaseId, int slots, LeaseWindow window, DateTimeOffset holdUntil,
        Credits? maxPricePerSlotHour = null, Guid? quoteId = null, int? minSlots = null);

    /// <summary>Promises the live price for <paramref name="slots"/> slots free in <paramref name="window"/> until the quote expires; null when the pool cannot.</summary>
    Task<Quote?> QuoteAsync(int slots, LeaseWindow window, Credits? maxPricePerSlotHour);

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
}
