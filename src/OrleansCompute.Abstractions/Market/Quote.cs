namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// A pool's promise: <see cref="Slots"/> slots at <see cref="PricePerSlotHour"/> for a lease requested with this
/// <see cref="Id"/> before <see cref="ExpiresAt"/>, whatever the live price has done since. It holds no slot.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.quote")]
public sealed record Quote(
    [property: Id(0)] string Id,
    [property: Id(1)] string PoolKey,
    [property: Id(2)] string Kind,
    [property: Id(3)] string Region,
    [property: Id(4)] int Slots,
    [property: Id(5)] Credits PricePerSlotHour,
    [property: Id(6)] DateTimeOffset ExpiresAt);

/// <summary>A quote id names the pool that gave it (<c>{guid}@{provider/pool}</c>), so a lease can go straight to that pool.</summary>
public static class QuoteIds
{
    public static string Format(Guid id, string poolKey) => $"{id:N}@{poolKey}";

    public static bool TryParse(string? quoteId, out Guid id, out string poolKey)
    {
        (id, poolKey) = (Guid.Empty, "");
        var at = quoteId?.IndexOf('@') ?? -1;
        if (at <= 0 || !Guid.TryParse(quoteId![..at], out id)) return false;
        poolKey = quoteId[(at + 1)..];
        return poolKey.Length > 0;
    }
}
