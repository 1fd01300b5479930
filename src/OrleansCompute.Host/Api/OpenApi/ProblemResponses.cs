using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace OrleansCompute.Host.Api.OpenApi;

/// <summary>
/// Every <c>/api</c> operation's refusals, as the host answers them: a problem document (<c>application/problem+json</c>)
/// with the project's <c>reason</c> and, when one is at fault, <c>field</c>. Which statuses an operation documents follows
/// from its endpoint: input (400), a signature (401, and 403 on a resource that may be someone else's), route values
/// (404, but for a PUT, which creates what its route names), a change (409), a body (413, 415), a grain asked (503); <see cref="RefusesAlso"/> adds the rest.
/// </summary>
public sealed class ProblemResponses : IOpenApiOperationTransformer
{
    public const string SchemaId = "ProblemDetails";
    public const string MediaType = "application/problem+json";

    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var shape = OperationShape.Of(context.Description);
        if (!shape.IsApi || context.Document is not { } document) return Task.CompletedTask;

        var statuses = new SortedSet<int>(shape.AlsoRefusesWith);
        if (shape.HasInput) statuses.Add(StatusCodes.Status400BadRequest);
        if (shape.Signed) statuses.Add(StatusCodes.Status401Unauthorized);
        if (shape.Signed && shape.HasRouteValues) statuses.Add(StatusCodes.Status403Forbidden);
        // A PUT creates what its route names: nothing there yet is no refusal.
        if (shape.HasRouteValues && !HttpMethods.IsPut(shape.Method)) statuses.Add(StatusCodes.Status404NotFound);
        if (!shape.IsRead) statuses.Add(StatusCodes.Status409Conflict);
        if (shape.HasBody) statuses.UnionWith([StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType]);
        if (shape.ReachesCluster) statuses.Add(StatusCodes.Status503ServiceUnavailable);
        if (statuses.Count == 0) return Task.CompletedTask;

        Register(document);
        operation.Responses ??= [];
        foreach (var status in statuses)
        {
            operation.Responses[status.ToString()] = new OpenApiResponse
            {
                Description = Describe(status, shape),
                Content = new Dictionary<string, OpenApiMediaType> { [MediaType] = new() { Schema = new OpenApiSchemaReference(SchemaId, document) } },
                Headers = status == StatusCodes.Status503ServiceUnavailable ? RetryAfter.Header(ClusterUnavailableHandler.RetryAfterSeconds) : null,
            };
        }
        return Task.CompletedTask;
    }

    private static string Describe(int status, OperationShape shape) => status switch
    {
        StatusCodes.Status400BadRequest => "The request is malformed or a value is out of range; nothing changed. `field` names the field at fault, `reason` says what is wrong (e.g. OutOfRange, UnknownKind, Required, MalformedJson).",
        StatusCodes.Status401Unauthorized => shape.Path.StartsWith("/api/pools", StringComparison.Ordinal)
            ? "Not signed by the pool's payout key, or the signature, address or timestamp is wrong, or a signed write was sent again; `field` names the header at fault, `reason` why (TenantSignatureRequired, BadSignature, StaleTimestamp, ReplayedRequest, …)."
            : "Not signed by the tenant, or the signature, address or timestamp is wrong, or a signed write was sent again; `field` names the header at fault, `reason` why (TenantSignatureRequired, BadSignature, StaleTimestamp, ReplayedRequest, …).",
        StatusCodes.Status402PaymentRequired => "The tenant's wallet and escrow balance together do not pay the deposit the request would take (reason InsufficientFunds, field tenant); the detail names the deposit and what the tenant holds. Nothing was reserved.",
        StatusCodes.Status403Forbidden => "Signed, but not by the owner: the lease or order is another tenant's, the pool or provider id another provider's (reason NotYourLease, NotYourOrder, NotYourPool, NotYourProvider).",
        StatusCodes.Status404NotFound => "Nothing has that id or key (reason UnknownLease, UnknownOrder, UnknownPool, …).",
        StatusCodes.Status409Conflict => "Valid, but the market cannot take it now: no capacity, a quote that expired, a lease in another state; `reason` says which. Nothing changed.",
        StatusCodes.Status413PayloadTooLarge => "The body is larger than the host reads (reason BodyTooLarge).",
        StatusCodes.Status415UnsupportedMediaType => "The body is not application/json (reason UnsupportedMediaType, field body).",
        StatusCodes.Status503ServiceUnavailable => "A silo of the cluster cannot be reached (reason ClusterUnavailable; within seconds the cluster moves its grains to the hosts that are up), or the chain node a request must read does not answer (reason ChainUnavailable); nothing changed: send the same request again after Retry-After seconds.",
        _ => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status),
    };

    /// <summary>RFC 9457's problem document with the project's extensions: every refusal carries <c>reason</c>, one about a field <c>field</c>.</summary>
    private static void Register(OpenApiDocument document)
    {
        if (document.Components?.Schemas?.ContainsKey(SchemaId) == true) return;
        document.AddComponent<IOpenApiSchema>(SchemaId, new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "A refusal (RFC 9457 problem document). `reason` is a stable code to branch on; `title` repeats it; `detail` explains it for a person.",
            Required = new HashSet<string> { "status", "title", "reason" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["type"] = Text("A URI naming the kind of problem."),
                ["title"] = Text("The reason, as `reason`."),
                ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Description = "The HTTP status." },
                ["detail"] = Text("What is wrong and what to do, for a person."),
                ["instance"] = Text("The request it is about."),
                ["reason"] = Text("A stable code for why the request was refused: OutOfRange, NoCapacity, UnknownLease, BadSignature, ClusterUnavailable, …"),
                ["field"] = Text("The request field, route value, query parameter or header at fault, when one is (e.g. slots, lease.kind, id, X-Occ-Signature)."),
                ["traceId"] = Text("The request's trace id, to find it in the host's logs."),
            },
        });
    }

    private static OpenApiSchema Text(string description) => new() { Type = JsonSchemaType.String, Description = description };
}

/// <summary>The <c>Retry-After</c> header of a refusal that passes.</summary>
internal static class RetryAfter
{
    public static Dictionary<string, IOpenApiHeader> Header(int? typicalSeconds = null) => new()
    {
        ["Retry-After"] = new OpenApiHeader
        {
            Description = typicalSeconds is { } seconds
                ? $"Seconds to wait before sending the request again ({seconds})."
                : "Seconds to wait before sending the request again.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
        },
    };
}
