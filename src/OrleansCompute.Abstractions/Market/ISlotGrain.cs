namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// One accelerator, keyed <c>provider/pool/index</c>: who holds it now and its calendar. The calendar is kept and
/// persisted by the slot's pool, the one authority on who holds which slot when (no two bookings of a slot overlap),
/// so a booking costs one grain call, not one per slot.
/// </summary>
public interface ISlotGrain : IGrainWithStringKey
{
    [ReadOnly]
    ValueTask<SlotSnapshot> GetAsync();
}
