using System.Security.Cryptography;
using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Abstractions.Inference;

/// <summary>
/// A lease's inference API key: <c>occ_{lease id}_{secret}</c>. The lease id in it routes a request to its lease grain
/// without a lookup table; the 256-bit secret is what the lease checks.
/// </summary>
public static class LeaseApiKeys
{
    private const string Prefix = "occ_";

    public static string New(Guid leaseId) =>
        $"{Prefix}{LeaseIds.Format(leaseId)}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))}";

    /// <summary>The lease a key claims to be for; false for anything that is not shaped like a lease key.</summary>
    public static bool TryParseLeaseId(string? apiKey, out Guid leaseId)
    {
        leaseId = Guid.Empty;
        if (apiKey is null || !apiKey.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        var rest = apiKey.AsSpan(Prefix.Length);
        var separator = rest.IndexOf('_');
        return separator == 32 && rest.Length == 32 + 1 + 64 && Guid.TryParseExact(rest[..separator], "N", out leaseId);
    }
}
