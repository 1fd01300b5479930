using System.Numerics;

namespace OrleansCompute.Abstractions.Leases;

/// <summary>
/// A lease is a Guid in the grains and a uint256 on chain: the Guid's 16 bytes read big-endian.
/// Both directions live here so that nothing else invents its own mapping.
/// </summary>
public static class LeaseIds
{
    public static BigInteger ToChainId(Guid leaseId) =>
        new(leaseId.ToByteArray(bigEndian: true), isUnsigned: true, isBigEndian: true);

    /// <summary>The chain lease id in decimal, as events and the API show it (through UInt128: cheaper than a BigInteger on every new lease).</summary>
    public static string FormatChainId(Guid leaseId)
    {
        Span<byte> bytes = stackalloc byte[16];
        leaseId.TryWriteBytes(bytes, bigEndian: true, out _);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The Guid for a chain lease id, or null when the id did not come from this market (wider than 128 bits).</summary>
    public static Guid? FromChainId(BigInteger chainId)
    {
        if (chainId.Sign < 0 || chainId.GetByteCount(isUnsigned: true) > 16) return null;
        var bytes = new byte[16];
        var written = chainId.ToByteArray(isUnsigned: true, isBigEndian: true);
        written.CopyTo(bytes, 16 - written.Length);
        return new Guid(bytes, bigEndian: true);
    }

    public static string Format(Guid leaseId) => leaseId.ToString("N");

    public static bool TryParse(string? text, out Guid leaseId) => Guid.TryParse(text, out leaseId);
}
