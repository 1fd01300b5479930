namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// One accelerator. The single authority on who holds it: a slot is never held by two leases at once.
/// Keyed <c>provider/pool/index</c>.
/// </summary>
public interface ISlotGrain : IGrainWithStringKey
{
    /// <summary>Holds the slot for <paramref name="leaseId"/> until it is funded; false when someone else holds it.</summary>
    Task<bool> TryReserveAsync(Guid leaseId, DateTimeOffset holdUntil);

    /// <summary>Turns the lease's reservation into a lease until <paramref name="leasedUntil"/>; false when the lease does not hold the slot.</summary>
    Task<bool> ActivateAsync(Guid leaseId, DateTimeOffset leasedUntil);

    /// <summary>Frees the slot if <paramref name="leaseId"/> holds it; otherwise changes nothing.</summary>
    Task ReleaseAsync(Guid leaseId);

    [ReadOnly]
    ValueTask<SlotSnapshot> GetAsync();
}
