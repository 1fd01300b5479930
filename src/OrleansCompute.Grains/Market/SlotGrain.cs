using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

[GenerateSerializer, Alias("occ.slot-state")]
public sealed class SlotState
{
    /// <summary>Non-overlapping bookings; those that ended are dropped as new ones arrive.</summary>
    [Id(0)] public List<SlotBooking> Calendar { get; set; } = [];
}

/// <summary>One accelerator and its calendar: it says yes to a window only when no other booking overlaps it.</summary>
public sealed class SlotGrain(
    [PersistentState("slot", GrainStorage.Market)] IPersistentState<SlotState> state,
    TimeProvider clock) : Grain, ISlotGrain
{
    private List<SlotBooking> Calendar => state.State.Calendar;

    public async Task<bool> TryReserveAsync(Guid leaseId, LeaseWindow window, DateTimeOffset holdUntil)
    {
        if (Calendar.Any(b => b.LeaseId == leaseId)) return true;
        var now = clock.GetUtcNow();
        Calendar.RemoveAll(b => b.Window.End <= now);
        if (Calendar.Any(b => b.Window.Overlaps(window))) return false;

        Calendar.Add(new SlotBooking(leaseId, window, holdUntil));
        await state.WriteStateAsync();
        return true;
    }

    public async Task<bool> ActivateAsync(Guid leaseId, LeaseWindow leased)
    {
        var index = Calendar.FindIndex(b => b.LeaseId == leaseId);
        if (index < 0 || !Calendar[index].Window.Contains(leased)) return false;

        Calendar[index] = new SlotBooking(leaseId, leased, HoldUntil: null);
        await state.WriteStateAsync();
        return true;
    }

    public async Task ReleaseAsync(Guid leaseId)
    {
        if (Calendar.RemoveAll(b => b.LeaseId == leaseId) == 0) return;
        await state.WriteStateAsync();
    }

    public ValueTask<SlotSnapshot> GetAsync()
    {
        var now = clock.GetUtcNow();
        var current = Calendar.FirstOrDefault(b => b.Window.Contains(now));
        var status = current is null ? SlotStatus.Available : current.HoldUntil is null ? SlotStatus.Leased : SlotStatus.Reserved;
        return ValueTask.FromResult(new SlotSnapshot(this.GetPrimaryKeyString(), status, current?.LeaseId,
            current?.HoldUntil ?? current?.Window.End, Calendar.OrderBy(b => b.Window.Start).ToList()));
    }
}
