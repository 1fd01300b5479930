using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using OrleansCompute.Host.Gateway;

namespace OrleansCompute.Host.Api.OpenApi;

/// <summary>
/// The <c>/v1</c> (OpenAI-compatible) operations' refusals, in OpenAI's error shape (<c>{"error": {message, type, param, code}}</c>)
/// that OpenAI's clients read, not problem documents: every one can refuse the key (401) and answer 503 while a silo is
/// gone; a completion can also be refused for its body (400, 413, 415), its model (404), the lease's escrow (402), the
/// lease's concurrency (429) or the pool's inference server (502). See <see cref="GatewayEndpoints"/>.
/// </summary>
public sealed class OpenAiErrorResponses : IOpenApiOperationTransformer
{
    public const string SchemaId = "OpenAiError";

    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var shape = OperationShape.Of(context.Description);
        if (!shape.IsOpenAi || context.Document is not { } document) return Task.CompletedTask;

        var statuses = new SortedSet<int> { StatusCodes.Status401Unauthorized, StatusCodes.Status503ServiceUnavailable };
        // GET /v1/models/{id}: a model other than the lease's.
        if (shape.HasRouteValues) statuses.Add(StatusCodes.Status404NotFound);
        // The completions read their JSON body themselves (no body metadata): what is not read is refused in OpenAI's shape.
        if (!shape.IsRead)
        {
            statuses.UnionWith([
                StatusCodes.Status400BadRequest, StatusCodes.Status402PaymentRequired, StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge,
                StatusCodes.Status415UnsupportedMediaType, StatusCodes.Status429TooManyRequests, StatusCodes.Status502BadGateway,
            ]);
        }

        Register(document);
        operation.Responses ??= [];
        foreach (var status in statuses)
        {
            operation.Responses[status.ToString()] = new OpenApiResponse
            {
                Description = Describe(status),
                Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = new OpenApiSchemaReference(SchemaId, document) } },
                Headers = status switch
                {
                    StatusCodes.Status429TooManyRequests => RetryAfter.Header(),
                    StatusCodes.Status503ServiceUnavailable => RetryAfter.Header(ClusterUnavailableHandler.RetryAfterSeconds),
                    _ => null,
                },
            };
        }
        return Task.CompletedTask;
    }

    private static string Describe(int status) => status switch
    {
        StatusCodes.Status400BadRequest => "The body is not a valid request (type invalid_request_error, code invalid_request, `param` naming the field), or the prompt and max_tokens exceed the context window (code context_length_exceeded).",
        StatusCodes.Status401Unauthorized => "No `Authorization: Bearer occ_…` header, not a lease key, or not the key of an active lease (code invalid_api_key).",
        StatusCodes.Status402PaymentRequired => "The lease needs more paid for before it runs this (type insufficient_quota): code voucher_required with `amount_to_sign` (cumulative credits) and `channel_to_sign` — sign that voucher and POST it to /api/leases/{id}/vouchers, then retry — or code escrow_low: top the escrow up.",
        StatusCodes.Status404NotFound => "The model asked for is not the one the lease's key can call (code model_not_found, param model); GET /v1/models lists it.",
        StatusCodes.Status413PayloadTooLarge => "The body is larger than the host reads.",
        StatusCodes.Status415UnsupportedMediaType => "The body is not application/json (code unsupported_media_type).",
        StatusCodes.Status429TooManyRequests => "The lease's slots are at their concurrency limit (type rate_limit_exceeded, code concurrency_limit); retry after Retry-After seconds. Nothing was metered.",
        StatusCodes.Status502BadGateway => "The pool's inference server failed the request (type api_error, code upstream_error), or could not be reached or did not begin its answer within the host's Gateway:UpstreamTimeout (code upstream_unavailable); nothing is metered for it.",
        StatusCodes.Status503ServiceUnavailable => "A silo of the cluster cannot be reached (type server_error, code cluster_unavailable); retry after Retry-After seconds.",
        _ => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status),
    };

    /// <summary>OpenAI's error body, as <see cref="OpenAiError.Body"/> writes it.</summary>
    private static void Register(OpenApiDocument document)
    {
        if (document.Components?.Schemas?.ContainsKey(SchemaId) == true) return;
        var nullableText = JsonSchemaType.String | JsonSchemaType.Null;
        document.AddComponent<IOpenApiSchema>(SchemaId, new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "A refused request, in OpenAI's error shape.",
            Required = new HashSet<string> { "error" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["error"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Required = new HashSet<string> { "message", "type", "param", "code" },
                    Properties = new Dictionary<string, IOpenApiSchema>
                    {
                        ["message"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "What is wrong, for a person." },
                        ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "invalid_request_error, insufficient_quota, rate_limit_exceeded, api_error or server_error." },
                        ["param"] = new OpenApiSchema { Type = nullableText, Description = "The request field at fault, or null." },
                        ["code"] = new OpenApiSchema { Type = nullableText, Description = "A stable code: invalid_api_key, invalid_request, context_length_exceeded, model_not_found, voucher_required, escrow_low, concurrency_limit, upstream_error, cluster_unavailable, …" },
                        ["amount_to_sign"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "402 voucher_required only: the cumulative amount of credits the voucher must sign, as a decimal string." },
                        ["channel_to_sign"] = new OpenApiSchema { Type = JsonSchemaType.Integer | JsonSchemaType.Null, Format = "int64", Description = "402 voucher_required only: the escrow channel of the lease's signer the voucher must name." },
                    },
                },
            },
        });
    }
}
