using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Host.Auth;

/// <summary>
/// Each request that acts for a tenant carries the tenant's address and its signature over the method, path,
/// time and body (see <see cref="RequestSigner"/>). The host verifies it; it never holds a tenant's key. A signed write
/// is good once: the same one sent again within its timestamp window is refused as a replay (a read may be sent again:
/// it changes nothing, and clients retry reads a host could not answer).
/// </summary>
public sealed class TenantSignatureAuthentication(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    TimeProvider clock,
    IGrainFactory grains) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "TenantSignature";
    public const string AddressClaim = "address";

    /// <summary>How far a request's timestamp may be from the host's clock.</summary>
    public static readonly TimeSpan AllowedSkew = TimeSpan.FromMinutes(5);

    private static readonly long MinUnixSeconds = DateTimeOffset.MinValue.ToUnixTimeSeconds(), MaxUnixSeconds = DateTimeOffset.MaxValue.ToUnixTimeSeconds();

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var headers = Request.Headers;
        string? tenant = headers[RequestSigner.TenantHeader];
        string? timestampText = headers[RequestSigner.TimestampHeader];
        string? signature = headers[RequestSigner.SignatureHeader];
        if (tenant is null && signature is null) return AuthenticateResult.NoResult();

        if (!AccountKeys.IsAddress(tenant))
            return Refuse("MalformedAddress", RequestSigner.TenantHeader, $"{RequestSigner.TenantHeader} is not an Ethereum address.");
        if (!long.TryParse(timestampText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var timestamp))
            return Refuse("MalformedTimestamp", RequestSigner.TimestampHeader, $"{RequestSigner.TimestampHeader} is not a unix time.");
        // A timestamp beyond the years DateTimeOffset holds (long.MaxValue) is stale too, not an overflow.
        if (timestamp < MinUnixSeconds || timestamp > MaxUnixSeconds
            || (clock.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(timestamp)).Duration() > AllowedSkew)
            return Refuse("StaleTimestamp", RequestSigner.TimestampHeader,
                $"{RequestSigner.TimestampHeader} is more than {AllowedSkew.TotalMinutes} minutes from the host's clock.");
        if (string.IsNullOrEmpty(signature))
            return Refuse("TenantSignatureRequired", RequestSigner.SignatureHeader, $"{RequestSigner.SignatureHeader} is missing.");

        var bodyHash = await HashBodyAsync();
        // The target exactly as the client sent and signed it: Request.Path would be unescaped.
        var target = Context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? Request.Path + Request.QueryString;
        var signer = RequestSigner.RecoverSigner(Request.Method, target, timestamp, bodyHash, signature);
        if (signer is null || AccountKeys.Normalize(signer) != AccountKeys.Normalize(tenant!))
            return Refuse("BadSignature", RequestSigner.SignatureHeader, "The request signature does not match the tenant.");
        var address = AccountKeys.Normalize(tenant!);
        if (!IsRead(Request.Method) && !await grains.GetGrain<IRequestReplayGuardGrain>(address)
                .FirstSightAsync(RequestId(target, timestamp, bodyHash), DateTimeOffset.FromUnixTimeSeconds(timestamp) + AllowedSkew))
            return Refuse("ReplayedRequest", RequestSigner.SignatureHeader,
                "This exact signed request was received before: a signed request is good once. Sign each request anew (a later timestamp).");

        var identity = new ClaimsIdentity([new Claim(AddressClaim, address)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = (await HandleAuthenticateOnceSafeAsync()).Failure;
        var (reason, field) = failure switch
        {
            SignatureRefused refused => (refused.Reason, refused.Header),
            null => ("TenantSignatureRequired", null),
            _ => ("BadSignature", (string?)RequestSigner.SignatureHeader),
        };
        var extensions = new Dictionary<string, object?> { ["reason"] = reason };
        if (field is not null) extensions["field"] = field;
        await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: reason,
            detail: failure?.Message ?? UnsignedDetail(),
            extensions: extensions)
            .ExecuteAsync(Context);
    }

    /// <summary>Who must sign an unsigned request: provider routes are signed the same way, by the pool's payout key.</summary>
    private string UnsignedDetail()
    {
        var headers = $"{RequestSigner.TenantHeader}, {RequestSigner.TimestampHeader}, {RequestSigner.SignatureHeader}";
        return Request.Path.StartsWithSegments("/api/pools", StringComparison.OrdinalIgnoreCase)
            ? $"This request acts for a provider: sign it with the pool's payout key ({headers}; {RequestSigner.TenantHeader} names the payout address)."
            : $"This request acts for a tenant: sign it ({headers}).";
    }

    private static bool IsRead(string method) => HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method);

    /// <summary>
    /// What was signed, as an id: the digest of the canonical text, not of the signature, which a third party could
    /// rewrite (the same signature in its 64-byte compact form, or in upper case, recovers the same signer) into a "new" request.
    /// </summary>
    private Guid RequestId(string target, long timestamp, string bodyHash) =>
        new(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(RequestSigner.CanonicalText(Request.Method, target, timestamp, bodyHash))).AsSpan(0, 16));

    private static AuthenticateResult Refuse(string reason, string header, string message) =>
        AuthenticateResult.Fail(new SignatureRefused(reason, header, message));

    /// <summary>Why a signed request was refused, carried from authentication to the 401: its reason and the header at fault.</summary>
    private sealed class SignatureRefused(string reason, string header, string message) : Exception(message)
    {
        public string Reason { get; } = reason;
        public string Header { get; } = header;
    }

    private async Task<string> HashBodyAsync()
    {
        Request.EnableBuffering();
        var hash = await SHA256.HashDataAsync(Request.Body, Context.RequestAborted);
        Request.Body.Position = 0;
        return Convert.ToHexStringLower(hash);
    }
}

public static class TenantClaims
{
    public static string Tenant(this ClaimsPrincipal user) =>
        user.FindFirstValue(TenantSignatureAuthentication.AddressClaim)
        ?? throw new InvalidOperationException("The endpoint requires an authenticated tenant.");
}
