namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// Who holds a slot now. <see cref="OutOfService"/>: nobody, and nobody will: its provider drained it. A drained slot
/// whose lease still runs out its notice is <see cref="Leased"/> (or <see cref="Reserved"/>) with <see cref="SlotSnapshot.Draining"/> set.
/// </summary>
public enum SlotStatus { Available, Reserved, Leased, OutOfService }

/// <summary>
/// A slot as its grain holds it: its calendar, and who has it now (<see cref="LeaseId"/>, held until
/// <see cref="HeldUntil"/>: the funding deadline of a reservation, the end of a lease). <see cref="Status"/> says who
/// holds it; <see cref="Draining"/> whether its provider is taking it back (it takes no new booking).
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.slot-snapshot")]
public sealed record SlotSnapshot(
    [property: Id(0)] string Key,
    [property: Id(1)] SlotStatus Status,
    [property: Id(2)] Guid? LeaseId,
    [property: Id(3)] DateTimeOffset? HeldUntil,
    [property: Id(4)] IReadOnlyList<SlotBooking> Calendar)
{
    [Id(5)] public bool Draining { get; init; }
}
