using Microsoft.AspNetCore.OpenApi;

namespace OrleansCompute.Host.Api.OpenApi;

/// <summary>
/// The host's OpenAPI document (<c>/openapi/v1.json</c>) as the API behaves: the refusals each operation can answer, in
/// the shape it answers them (<see cref="ProblemResponses"/> for <c>/api</c>, <see cref="OpenAiErrorResponses"/> for
/// <c>/v1</c>), and how each is signed or keyed (<see cref="SecurityRequirements"/>).
/// </summary>
public static class MarketOpenApi
{
    public static void Configure(OpenApiOptions options)
    {
        // The dashboard is an HTML page and the JSON it polls, not part of the API a client is generated for; the
        // index at "/" names its address. So none of its routes, not even /dashboard, is in the document.
        var include = options.ShouldInclude;
        options.ShouldInclude = description => include(description) && !IsDashboard(description.RelativePath);
        options.AddOperationTransformer<ProblemResponses>();
        options.AddOperationTransformer<OpenAiErrorResponses>();
        options.AddOperationTransformer<SecurityRequirements>();
        options.AddSchemaTransformer<ConvertedSchemas>();
    }

    private static bool IsDashboard(string? relativePath) =>
        relativePath is not null && (relativePath == "dashboard" || relativePath.StartsWith("dashboard/", StringComparison.OrdinalIgnoreCase));
}
