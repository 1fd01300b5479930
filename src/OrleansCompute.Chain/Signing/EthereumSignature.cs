using System.Numerics;
using NBitcoin.Secp256k1;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Util;

namespace OrleansCompute.Chain.Signing;

/// <summary>
/// Signatures over a 32-byte hash, in two forms: 65-byte r||s||v (v 27 or 28), and the 64-byte compact form of EIP-2098,
/// r||vs, where the top bit of vs is v - 27 and the rest is s. Reading is strict, by the same rules as the escrow contract
/// (s in the lower half of the curve order, r and s non-zero): an off-chain check laxer than the contract would accept
/// vouchers that then fail to settle.
/// The curve math is libsecp256k1's C# port (NBitcoin.Secp256k1, which Nethereum already ships) rather than
/// Nethereum's default BouncyCastle path, which is one to two orders of magnitude slower; the host verifies a
/// signature on every request and every voucher.
/// </summary>
internal static class EthereumSignature
{
    private static readonly BigInteger HalfCurveOrder =
        BigInteger.Parse("7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0", System.Globalization.NumberStyles.HexNumber);

    /// <summary>A signature the contract would accept, in either form, as its 64 bytes r||s and recovery id (0 or 1); or false.</summary>
    public static bool TryRead(string? signature, out byte[] rs, out int recoveryId)
    {
        rs = [];
        recoveryId = 0;
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
        switch (bytes.Length)
        {
            case 65 when bytes[64] is 27 or 28:
                rs = bytes[..64];
                recoveryId = bytes[64] - 27;
                break;
            case 64:
                rs = (byte[])bytes.Clone();
                recoveryId = rs[32] >> 7;
                rs[32] &= 0x7F;
                break;
            default:
                return false;
        }
        var r = new BigInteger(rs.AsSpan(0, 32), isUnsigned: true, isBigEndian: true);
        var s = new BigInteger(rs.AsSpan(32, 32), isUnsigned: true, isBigEndian: true);
        return !r.IsZero && !s.IsZero && s <= HalfCurveOrder;
    }

    /// <summary>The compact (r, vs) halves the contract takes, or null for a malformed signature.</summary>
    public static (byte[] R, byte[] Vs)? ToCompact(string? signature)
    {
        if (!TryRead(signature, out var rs, out var recoveryId)) return null;
        var vs = rs[32..];
        vs[0] |= (byte)(recoveryId << 7);
        return (rs[..32], vs);
    }

    /// <summary>The checksummed address that signed <paramref name="hash"/>, or null for a malformed signature.</summary>
    public static string? Recover(byte[] hash, string? signature)
    {
        if (hash.Length != 32 || !TryRead(signature, out var rs, out var recoveryId)) return null;
        if (!SecpRecoverableECDSASignature.TryCreateFromCompact(rs, recoveryId, out var recoverable) || recoverable is null)
            return null;
        if (!ECPubKey.TryRecover(Context.Instance, recoverable, hash, out var publicKey) || publicKey is null)
            return null;
        return AddressOf(publicKey);
    }

    /// <summary>Signs <paramref name="hash"/>: deterministic (RFC 6979), low s, as 0x-hex r||s||v with v 27 or 28.</summary>
    public static string Sign(byte[] hash, string privateKey)
    {
        var (rs, recoveryId) = SignRaw(hash, privateKey);
        return rs.Append((byte)(27 + recoveryId)).ToArray().ToHex(prefix: true);
    }

    /// <summary>Signs <paramref name="hash"/> like <see cref="Sign"/>, in the 64-byte compact form r||vs (EIP-2098).</summary>
    public static string SignCompact(byte[] hash, string privateKey)
    {
        var (rs, recoveryId) = SignRaw(hash, privateKey);
        rs[32] |= (byte)(recoveryId << 7);
        return rs.ToHex(prefix: true);
    }

    private static (byte[] Rs, int RecoveryId) SignRaw(byte[] hash, string privateKey)
    {
        if (hash.Length != 32) throw new ArgumentException("A signature is over a 32-byte hash.", nameof(hash));
        using var key = PrivateKey(privateKey);
        if (!key.TrySignRecoverable(hash, out var signature) || signature is null)
            throw new InvalidOperationException("secp256k1 could not sign this hash.");
        var rs = new byte[64];
        signature.WriteToSpanCompact(rs, out var recoveryId);
        return (rs, recoveryId);
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
