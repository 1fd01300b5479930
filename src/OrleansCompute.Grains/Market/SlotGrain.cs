using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

[GenerateSerializer, Alias("occ.slot-state")]
public sealed class SlotState
{
    [Id(0)] public SlotStatus Status { get; set; }
    [Id(1)] public Guid? LeaseId { get; set; }
    [Id(2)] public DateTimeOffset? HeldUntil { get; set; }
}

/// <summary>One accelerator: answers yes to exactly one lease at a time.</summary>
public sealed class SlotGrain(
    [PersistentState("slot", GrainStorage.Market)] IPersistentState<SlotState> state) : Grain, ISlotGrain
{
    public async Task<bool> TryReserveAsync(Guid leaseId, DateTimeOffset holdUntil)
    {
        if (state.State.LeaseId == leaseId) return true;
        if (state.State.Status != SlotStatus.Available) return false;

        state.State.Status = SlotStatus.Reserved;
        state.State.LeaseId = leaseId;
        state.State.HeldUntil = holdUntil;
        await state.WriteStateAsync();
        return true;
    }

    public async Task<bool> ActivateAsync(Guid leaseId, DateTimeOffset leasedUntil)
    {
        if (state.State.LeaseId != leaseId) return false;

        state.State.Status = SlotStatus.Leased;
        state.State.HeldUntil = leasedUntil;
        await state.WriteStateAsync();
        return true;
    }

    public async Task ReleaseAsync(Guid leaseId)
    {
        if (state.State.LeaseId != leaseId) return;

        state.State = new SlotState();
        await state.WriteStateAsync();
    }

    public ValueTask<SlotSnapshot> GetAsync() =>
        ValueTask.FromResult(new SlotSnapshot(this.GetPrimaryKeyString(), state.State.Status, state.State.LeaseId, state.State.HeldUntil));
}
