using System.Globalization;
using System.Security.Cryptography;
using Nethereum.Signer;

namespace OrleansCompute.Chain.Signing;

/// <summary>
/// How a tenant proves itself on each HTTP request without its key ever reaching the host: it signs (EIP-191
/// personal_sign, hashed by Nethereum's <see cref="EthereumMessageSigner"/>) a canonical text naming the method, path, time and body hash, and sends the signature in headers.
/// The host recovers the signer and compares it with <see cref="TenantHeader"/>; it also checks the timestamp is recent.
/// </summary>
public static class RequestSigner
{
    public const string TenantHeader = "X-Occ-Tenant";
    public const string TimestampHeader = "X-Occ-Timestamp";
    public const string SignatureHeader = "X-Occ-Signature";

    private static readonly EthereumMessageSigner Signer = new();

    public static RequestSignature Sign(string privateKey, string method, string pathAndQuery, DateTimeOffset timestamp, ReadOnlySpan<byte> body)
    {
        var unixSeconds = timestamp.ToUnixTimeSeconds();
        var text = CanonicalText(method, pathAndQuery, unixSeconds, BodySha256Hex(body));
        return new RequestSignature(EthereumSignature.AddressOf(privateKey), unixSeconds, EthereumSignature.Sign(Signer.HashPrefixedMessage(text), privateKey));
    }

    /// <returns>The checksummed address that signed this request, or null when the signature is malformed.</returns>
    public static string? RecoverSigner(string method, string pathAndQuery, long unixSeconds, string bodySha256Hex, string signature)
    {
        var text = CanonicalText(method, pathAndQuery, unixSeconds, bodySha256Hex);
        return EthereumSignature.Recover(Signer.HashPrefixedMessage(text), signature);
    }

    /// <summary>The exact text that is signed: <c>OrleansCompute request\n{METHOD}\n{pathAndQuery}\n{unixSeconds}\n{sha256(body) hex}</c>.</summary>
    public static string CanonicalText(string method, string pathAndQuery, long unixSeconds, string bodySha256Hex) =>
        string.Join('\n',
            "OrleansCompute request",
            method.ToUpperInvariant(),
            pathAndQuery,
            unixSeconds.ToString(CultureInfo.InvariantCulture),
            bodySha256Hex.ToLowerInvariant());

    public static string BodySha256Hex(ReadOnlySpan<byte> body) => Convert.ToHexStringLower(SHA256.HashData(body));
}

/// <summary>The three header values of a signed request.</summary>
public sealed record RequestSignature(string Tenant, long Timestamp, string Signature)
{
    public string TimestampText => Timestamp.ToString(CultureInfo.InvariantCulture);
}
