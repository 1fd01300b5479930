using System.Numerics;
using NBitcoin.Secp256k1;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Util;

namespace OrleansCompute.Chain.Signing;

/// <summary>
/// 65-byte r||s||v signatures over a 32-byte hash. Reading is strict, by the same rules as OpenZeppelin's
/// ECDSA.tryRecover on chain (v is 27 or 28, s in the lower half of the curve order): an off-chain check laxer
/// than the contract would accept vouchers that then fail to settle.
/// The curve math is libsecp256k1's C# port (NBitcoin.Secp256k1, which Nethereum already ships) rather than
/// Nethereum's default BouncyCastle path, which is one to two orders of magnitude slower; the host verifies a
/// signature on every request and every voucher.
/// </summary>
internal static class EthereumSignature
{
    private static readonly BigInteger HalfCurveOrder =
        BigInteger.Parse("7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0", System.Globalization.NumberStyles.HexNumber);

    /// <summary>The 65 bytes of a signature the contract would accept, or false.</summary>
    public static bool TryRead(string? signature, out byte[] bytes)
    {
        bytes = [];
        if (string.IsNullOrWhiteSpace(signature) || !signature.IsHex()) return false;
        try
        {
            bytes = signature.HexToByteArray();
        }
        catch (FormatException)
        {
            return false;
        }
        if (bytes.Length != 65 || bytes[64] is not (27 or 28)) return false;
        var r = new BigInteger(bytes.AsSpan(0, 32), isUnsigned: true, isBigEndian: true);
        var s = new BigInteger(bytes.AsSpan(32, 32), isUnsigned: true, isBigEndian: true);
        return !r.IsZero && !s.IsZero && s <= HalfCurveOrder;
    }

    /// <summary>The checksummed address that signed <paramref name="hash"/>, or null for a malformed signature.</summary>
    public static string? Recover(byte[] hash, string? signature)
    {
        if (hash.Length != 32 || !TryRead(signature, out var bytes)) return null;
        if (!SecpRecoverableECDSASignature.TryCreateFromCompact(bytes.AsSpan(0, 64), bytes[64] - 27, out var recoverable) || recoverable is null)
            return null;
        if (!ECPubKey.TryRecover(Context.Instance, recoverable, hash, out var publicKey) || publicKey is null)
            return null;
        return AddressOf(publicKey);
    }

    /// <summary>Signs <paramref name="hash"/>: deterministic (RFC 6979), low s, v 27 or 28, as 0x-hex.</summary>
    public static string Sign(byte[] hash, string privateKey)
    {
        if (hash.Length != 32) throw new ArgumentException("A signature is over a 32-byte hash.", nameof(hash));
        using var key = PrivateKey(privateKey);
        if (!key.TrySignRecoverable(hash, out var signature) || signature is null)
            throw new InvalidOperationException("secp256k1 could not sign this hash.");
        var bytes = new byte[65];
        signature.WriteToSpanCompact(bytes.AsSpan(0, 64), out var recoveryId);
        bytes[64] = (byte)(27 + recoveryId);
        return bytes.ToHex(prefix: true);
    }

    /// <summary>The checksummed address of a private key.</summary>
    public static string AddressOf(string privateKey)
    {
        using var key = PrivateKey(privateKey);
        return AddressOf(key.CreatePubKey());
    }

    private static ECPrivKey PrivateKey(string privateKey)
    {
        byte[] bytes;
        try
        {
            bytes = privateKey.HexToByteArray();
        }
        catch (FormatException exception)
        {
            throw new ArgumentException("A private key is 32 bytes of hex.", nameof(privateKey), exception);
        }
        return bytes.Length == 32 && Context.Instance.TryCreateECPrivKey(bytes, out var key) && key is not null
            ? key
            : throw new ArgumentException("A private key is 32 bytes of hex, non-zero and below the curve order.", nameof(privateKey));
    }

    private static string AddressOf(ECPubKey publicKey)
    {
        Span<byte> uncompressed = stackalloc byte[65];
        publicKey.WriteToSpan(compressed: false, uncompressed, out _);
        var hash = Sha3Keccack.Current.CalculateHash(uncompressed[1..].ToArray());
        return AddressUtil.Current.ConvertToChecksumAddress(hash.AsSpan(12).ToArray().ToHex(prefix: true));
    }
}
