using System.Numerics;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Signer;

namespace OrleansCompute.Chain.Signing;

/// <summary>
/// Strict reading of a 65-byte r||s||v signature, by the same rules as OpenZeppelin's ECDSA.tryRecover on chain:
/// v is 27 or 28 and s is in the lower half of the curve order. Off-chain checks that are laxer than the
/// contract would accept vouchers that then fail to settle.
/// </summary>
internal static class EthereumSignature
{
    private static readonly BigInteger HalfCurveOrder =
        BigInteger.Parse("7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0", System.Globalization.NumberStyles.HexNumber);

    public static bool TryParse(string? signature, out EthECDSASignature parsed)
    {
        parsed = null!;
        if (string.IsNullOrWhiteSpace(signature) || !signature.IsHex()) return false;
        byte[] bytes;
        try
        {
            bytes = signature.HexToByteArray();
        }
        catch (FormatException)
        {
            return false;
        }
        if (bytes.Length != 65) return false;
        var v = bytes[64];
        if (v is not (27 or 28)) return false;
        var s = new BigInteger(bytes.AsSpan(32, 32), isUnsigned: true, isBigEndian: true);
        if (s.IsZero || s > HalfCurveOrder) return false;
        var r = new BigInteger(bytes.AsSpan(0, 32), isUnsigned: true, isBigEndian: true);
        if (r.IsZero) return false;
        parsed = EthECDSASignatureFactory.FromComponents(bytes[..32], bytes[32..64], [v]);
        return true;
    }

    /// <summary>The checksummed address that signed <paramref name="hash"/>, or null for a malformed signature.</summary>
    public static string? Recover(byte[] hash, string? signature)
    {
        if (!TryParse(signature, out var parsed)) return null;
        try
        {
            return EthECKey.RecoverFromSignature(parsed, hash).GetPublicAddress();
        }
        catch (Exception exception) when (exception is ArgumentException or FormatException or InvalidOperationException or ArithmeticException)
        {
            return null;
        }
    }
}
