using System.Numerics;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Util;
using Secp256k1Net;

namespace OrleansCompute.Chain.Signing;

/// <summary>
/// Signatures over a 32-byte hash, in two forms: 65-byte r||s||v (v 27 or 28), and the 64-byte compact form of EIP-2098,
/// r||vs, where the top bit of vs is v - 27 and the rest is s. Reading is strict, by the same rules as the escrow contract
/// (s in the lower half of the curve order, r and s non-zero): an off-chain check laxer than the contract would accept
/// vouchers that then fail to settle.
/// The curve math is libsecp256k1 itself (Bitcoin Core's C library, through Secp256k1.Net, which bundles it for each
/// platform) rather than Nethereum's default BouncyCastle path, which is one to two orders of magnitude slower, or the
/// library's C# port (NBitcoin.Secp256k1), about seven times slower: the host verifies a signature on every signed
/// request and every voucher. Its signatures are deterministic (RFC 6979) and low-s, as Nethereum's are, to the byte.
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
        byte[] publicKey;
        try
        {
            publicKey = Secp256k1.RecoverPublicKey(rs, (byte)recoveryId, hash, compressed: false);
        }
        catch (ArgumentException)
        {
            return null; // r or s not below the curve order, or no point for r: no signer.
        }
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
        return Secp256k1.SignRecoverable(hash, PrivateKey(privateKey));
    }

    /// <summary>The checksummed address of a private key.</summary>
    public static string AddressOf(string privateKey) =>
        AddressOf(Secp256k1.CreatePublicKey(PrivateKey(privateKey), compressed: false));

    private static byte[] PrivateKey(string privateKey)
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
        return bytes.Length == 32 && Secp256k1.IsValidSecretKey(bytes)
            ? bytes
            : throw new ArgumentException("A private key is 32 bytes of hex, non-zero and below the curve order.", nameof(privateKey));
    }

    /// <param name="publicKey">The 65-byte uncompressed form, 0x04 ‖ x ‖ y: the address is the last 20 bytes of keccak(x ‖ y).</param>
    private static string AddressOf(byte[] publicKey)
    {
        var hash = Sha3Keccack.Current.CalculateHash(publicKey[1..]);
        return AddressUtil.Current.ConvertToChecksumAddress(hash.AsSpan(12).ToArray().ToHex(prefix: true));
    }
}
