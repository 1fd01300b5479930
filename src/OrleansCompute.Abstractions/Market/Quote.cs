namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// A pool's promise: <see cref="Slots"/> slots at <see cref="PricePerSlotHour"/> for a lease requested with this
/// <see cref="Id"/> (a <see cref="ScopedIds"/> id naming the pool) before <see cref="ExpiresAt"/>, whatever the live price
/// has done since, for the lease it priced: the same slots, <see cref="Hours"/> and <see cref="Start"/> (null: now). It holds no slot.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.quote")]
public sealed record Quote(
    [property: Id(0)] string Id,
    [property: Id(1)] string PoolKey,
    [property: Id(2)] string Kind,
    [property: Id(3)] string Region,
    [property: Id(4)] int Slots,
    [property: Id(5)] Credits PricePerSlotHour,
    [property: Id(6)] DateTimeOffset ExpiresAt)
{
    [Id(7)] public int Hours { get; init; }

    [Id(8)] public DateTimeOffset? Start { get; init; }
}
