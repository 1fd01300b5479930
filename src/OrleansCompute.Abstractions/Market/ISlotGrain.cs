namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// One accelerator and its calendar. The single authority on who holds it when: no two bookings of a slot overlap.
/// Keyed <c>provider/pool/index</c>.
/// </summary>
public interface ISlotGrain : IGrainWithStringKey
{
    /// <summary>Books <paramref name="window"/> for the lease, held until it is funded; false when it overlaps another booking.</summary>
    Task<bool> TryReserveAsync(Guid leaseId, LeaseWindow window, DateTimeOffset holdUntil);

    /// <summary>
    /// Confirms the lease's booking as funded, narrowed to <paramref name="leased"/> (which must lie within what was reserved);
    /// false when the lease holds no such booking.
    /// </summary>
    Task<bool> ActivateAsync(Guid leaseId, LeaseWindow leased);

    /// <summary>Removes the lease's booking, if any.</summary>
    Task ReleaseAsync(Guid leaseId);

    [ReadOnly]
    ValueTask<SlotSnapshot> GetAsync();
}
