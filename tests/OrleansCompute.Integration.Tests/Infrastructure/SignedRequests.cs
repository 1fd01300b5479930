using System.Text;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Integration.Tests.Infrastructure;

/// <summary>Requests signed the way occ signs them, but with any body: tests send what occ never would.</summary>
public static class SignedRequests
{
    public static HttpRequestMessage Create(HttpMethod method, string path, string json, string signerKey, string? claimedTenant = null,
        DateTimeOffset? signedAt = null) =>
        Create(method, path, Encoding.UTF8.GetBytes(json), signerKey, claimedTenant, signedAt);

    /// <summary>
    /// Signed with <paramref name="signerKey"/> at <paramref name="signedAt"/> (now by default), claiming to come from
    /// <paramref name="claimedTenant"/> (the signer by default). The same arguments make the same request, byte for byte.
    /// </summary>
    public static HttpRequestMessage Create(HttpMethod method, string path, byte[] body, string signerKey, string? claimedTenant = null,
        DateTimeOffset? signedAt = null)
    {
        var signature = RequestSigner.Sign(signerKey, method.Method, path, signedAt ?? DateTimeOffset.UtcNow, body);
        var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Add(RequestSigner.TenantHeader, claimedTenant ?? signature.Tenant);
        request.Headers.Add(RequestSigner.TimestampHeader, signature.TimestampText);
        request.Headers.Add(RequestSigner.SignatureHeader, signature.Signature);
        return request;
    }
}
