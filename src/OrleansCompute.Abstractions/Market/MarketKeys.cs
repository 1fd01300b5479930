namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// Grain keys of the market, built and parsed only here:
/// a pool is <c>provider/pool</c>, a slot is <c>provider/pool/index</c>, a market is the accelerator kind.
/// </summary>
public static class MarketKeys
{
    public static string Pool(string providerId, string poolName) => $"{providerId}/{poolName}";

    public static string Slot(string poolKey, int index) => $"{poolKey}/{index}";

    public static string Market(string kind) => kind.ToLowerInvariant();

    /// <summary>Provider ids and pool names: lowercase letters, digits and dashes, so keys split cleanly.</summary>
    public static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 64 &&
        name.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-');

    /// <summary>Splits <c>provider/pool</c>; false when the key is not two non-empty parts.</summary>
    public static bool TryParsePool(string poolKey, out string providerId, out string poolName)
    {
        var cut = poolKey.IndexOf('/');
        var valid = cut > 0 && cut < poolKey.Length - 1 && poolKey.IndexOf('/', cut + 1) < 0;
        (providerId, poolName) = valid ? (poolKey[..cut], poolKey[(cut + 1)..]) : ("", "");
        return valid;
    }

    public static (string PoolKey, int Index) ParseSlot(string slotKey)
    {
        var cut = slotKey.LastIndexOf('/');
        if (cut <= 0 || !int.TryParse(slotKey.AsSpan(cut + 1), out var index))
            throw MarketException.Invalid("key", "MalformedSlotKey", $"'{slotKey}' is not a slot key (provider/pool/index).");
        return (slotKey[..cut], index);
    }
}
