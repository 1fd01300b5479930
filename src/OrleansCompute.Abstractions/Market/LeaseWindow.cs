namespace OrleansCompute.Abstractions.Market;

/// <summary>A half-open span of time [Start, End) that a slot is booked for.</summary>
[GenerateSerializer, Immutable, Alias("occ.lease-window")]
public readonly record struct LeaseWindow([property: Id(0)] DateTimeOffset Start, [property: Id(1)] DateTimeOffset End)
{
    public bool Overlaps(LeaseWindow other) => Start < other.End && other.Start < End;

    public bool Contains(LeaseWindow other) => Start <= other.Start && other.End <= End;

    public bool Contains(DateTimeOffset instant) => Start <= instant && instant < End;

    public TimeSpan Duration => End - Start;

    public static LeaseWindow From(DateTimeOffset start, TimeSpan duration) => new(start, start + duration);
}

/// <summary>One entry of a slot's calendar: a lease's window, held until <see cref="HoldUntil"/> unless funded (then null).</summary>
[GenerateSerializer, Immutable, Alias("occ.slot-booking")]
public sealed record SlotBooking(
    [property: Id(0)] Guid LeaseId,
    [property: Id(1)] LeaseWindow Window,
    [property: Id(2)] DateTimeOffset? HoldUntil);
