namespace OrleansCompute.Chain.Escrow;

/// <summary>uint64 unix seconds on chain, <see cref="DateTimeOffset"/> in C#; beyond year 9999 reads as <see cref="DateTimeOffset.MaxValue"/>.</summary>
internal static class UnixTime
{
    private static readonly ulong MaxSeconds = (ulong)DateTimeOffset.MaxValue.ToUnixTimeSeconds();

    public static DateTimeOffset FromSeconds(ulong seconds) =>
        seconds >= MaxSeconds ? DateTimeOffset.MaxValue : DateTimeOffset.FromUnixTimeSeconds((long)seconds);

    public static ulong ToSeconds(DateTimeOffset time) =>
        time.ToUnixTimeSeconds() is var seconds and >= 0 ? (ulong)seconds : throw new ArgumentOutOfRangeException(nameof(time), time, "Before 1970.");
}
