namespace OrleansCompute.Grains.Orders;

/// <summary>
/// The lease an open order's fill books, its id chosen (at <see cref="ChosenAt"/>) and stored before the market is asked,
/// so that the book can always find out whether the fill was booked.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.pending-fill")]
public sealed record PendingFill([property: Id(0)] Guid LeaseId, [property: Id(1)] DateTimeOffset ChosenAt);
