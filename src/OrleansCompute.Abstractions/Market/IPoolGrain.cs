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
    /// Holds <paramref name="slots"/> slots for the lease, all or none, at the pool's live price; null when the pool
    /// has not enough free slots or its price is above <paramref name="maxPricePerSlotHour"/>.
    /// With <paramref name="quoteId"/>, the quoted price is paid, and an unknown or expired quote is refused.
    /// </summary>
    Task<PoolReservation?> ReserveAsync(Guid leaseId, int slots, DateTimeOffset holdUntil, Credits? maxPricePerSlotHour = null, Guid? quoteId = null);

    /// <summary>Promises the live price for <paramref name="slots"/> slots until the quote expires; null when the pool has not that many free.</summary>
    Task<Quote?> QuoteAsync(int slots, Credits? maxPricePerSlotHour);

    /// <summary>Turns the lease's held slots into leased ones; false (and nothing leased) when the lease no longer holds them all.</summary>
    Task<bool> ActivateAsync(Guid leaseId, DateTimeOffset leasedUntil);

    /// <summary>Frees every slot the lease holds.</summary>
    Task ReleaseAsync(Guid leaseId);

    [ReadOnly]
    ValueTask<PoolSnapshot> GetAsync();
}
