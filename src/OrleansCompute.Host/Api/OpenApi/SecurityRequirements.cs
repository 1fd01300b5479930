using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Host.Auth;

namespace OrleansCompute.Host.Api.OpenApi;

/// <summary>
/// How a request proves who sends it, on exactly the operations that ask: the signed-request headers
/// (<see cref="TenantSignatureAuthentication"/>) on the operations that require authorization — a tenant's, or for
/// <c>/api/pools</c> the pool's payout key — and the lease's inference key as a bearer token on <c>/v1</c>.
/// </summary>
/// <remarks>
/// A signature is one value in three headers, so the signing scheme is three apiKey schemes a requirement asks for
/// together (OpenAPI's "and"): <see cref="SignatureScheme"/> carries the description of what is signed.
/// </remarks>
public sealed class SecurityRequirements : IOpenApiOperationTransformer
{
    public const string SignatureScheme = "TenantSignature", AddressScheme = "TenantAddress", TimestampScheme = "TenantTimestamp";
    public const string LeaseKeyScheme = "LeaseKey";

    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var shape = OperationShape.Of(context.Description);
        if (context.Document is not { } document) return Task.CompletedTask;
        if (shape.Signed)
        {
            RegisterSigning(document);
            operation.Security = [new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference(SignatureScheme, document)] = [],
                [new OpenApiSecuritySchemeReference(AddressScheme, document)] = [],
                [new OpenApiSecuritySchemeReference(TimestampScheme, document)] = [],
            }];
        }
        else if (shape.IsOpenAi)
        {
            RegisterLeaseKey(document);
            operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(LeaseKeyScheme, document)] = [] }];
        }
        return Task.CompletedTask;
    }

    private static void RegisterSigning(OpenApiDocument document)
    {
        if (document.Components?.SecuritySchemes?.ContainsKey(SignatureScheme) == true) return;
        var window = (int)TenantSignatureAuthentication.AllowedSkew.TotalMinutes;
        document.AddComponent<IOpenApiSecurityScheme>(SignatureScheme, Header(RequestSigner.SignatureHeader,
            "A signed request: the signer's key never reaches the host. Send three headers: " +
            $"{RequestSigner.TenantHeader}, the signer's Ethereum address (the tenant; for /api/pools the pool's payout address); " +
            $"{RequestSigner.TimestampHeader}, the time in unix seconds (within {window} minutes of the host's clock); and " +
            $"{RequestSigner.SignatureHeader}, the EIP-191 personal_sign signature (0x-prefixed hex: 65 bytes r||s||v, or the 64-byte EIP-2098 compact form) of the text " +
            "`OrleansCompute request\\n{METHOD}\\n{path and query exactly as sent}\\n{timestamp}\\n{sha256 of the body, lowercase hex}` " +
            "(the hash of no bytes for a request without a body). A signed write is good once: sent again it is refused (401 ReplayedRequest); " +
            "sign each request anew. `occ` signs for you."));
        document.AddComponent<IOpenApiSecurityScheme>(AddressScheme, Header(RequestSigner.TenantHeader,
            $"The signer's Ethereum address: the tenant, or for /api/pools the pool's payout address. See {SignatureScheme}."));
        document.AddComponent<IOpenApiSecurityScheme>(TimestampScheme, Header(RequestSigner.TimestampHeader,
            $"The time the request was signed, in unix seconds, within {window} minutes of the host's clock. See {SignatureScheme}."));
    }

    private static void RegisterLeaseKey(OpenApiDocument document)
    {
        if (document.Components?.SecuritySchemes?.ContainsKey(LeaseKeyScheme) == true) return;
        document.AddComponent<IOpenApiSecurityScheme>(LeaseKeyScheme, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "occ_…",
            Description = "An active lease's inference key (`Authorization: Bearer occ_…`), from GET /api/leases/{id}/key or `occ lease key ID`; it is good while the lease is Active.",
        });
    }

    private static OpenApiSecurityScheme Header(string name, string description) => new()
    {
        Type = SecuritySchemeType.ApiKey,
        In = ParameterLocation.Header,
        Name = name,
        Description = description,
    };
}
