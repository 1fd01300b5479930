using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// What a client generated from, or a person reading, <c>/openapi/v1.json</c> relies on: how each operation refuses (problem
/// documents on <c>/api</c>, OpenAI's error shape on <c>/v1</c>), which operations must be signed and how, and nothing of the
/// dashboard's internals.
/// </summary>
[Collection(MarketCollection.Name)]
public sealed class OpenApiDocumentTests(MarketFixture market)
{
    private const string ProblemMediaType = "application/problem+json", ProblemSchema = "#/components/schemas/ProblemDetails";

    /// <summary>The operations that require a signature: the tenant's lease and order routes, and the provider's pool routes.</summary>
    private static readonly string[] SignedOperations =
    [
        "POST /api/leases", "GET /api/leases", "POST /api/leases/{id}/end", "GET /api/leases/{id}/key", "POST /api/leases/{id}/voucher",
        "POST /api/orders", "GET /api/orders", "POST /api/orders/{id}/cancel",
        "PUT /api/pools/{provider}/{pool}", "POST /api/pools/{provider}/{pool}/slots/{index}/drain",
    ];

    private HttpClient Http => new() { BaseAddress = new Uri(market.Devnet.ApiUrl) };

    private Task<JsonElement> DocumentAsync() => Http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");

    [Fact]
    public async Task Leasing_documents_its_refusals_as_problem_documents_with_a_reason()
    {
        var document = await DocumentAsync();
        var lease = Operation(document, "POST", "/api/leases");

        foreach (var status in new[] { "400", "401", "409", "413", "415", "503" })
            Assert.Equal(ProblemSchema, SchemaRef(Response(lease, status), ProblemMediaType));
        Assert.True(Response(lease, "503").GetProperty("headers").TryGetProperty("Retry-After", out _), "503 documents no Retry-After");
        Assert.False(Responses(lease).TryGetProperty("404", out _), "POST /api/leases has no route value to be unknown");

        var problem = document.GetProperty("components").GetProperty("schemas").GetProperty("ProblemDetails");
        Assert.Equal("string", problem.GetProperty("properties").GetProperty("reason").GetProperty("type").GetString());
        Assert.Equal("string", problem.GetProperty("properties").GetProperty("field").GetProperty("type").GetString());
        var required = problem.GetProperty("required").EnumerateArray().Select(r => r.GetString()).ToList();
        Assert.Contains("reason", required);
        Assert.DoesNotContain("field", required);
    }

    [Fact]
    public async Task Refusals_follow_each_operation_unsigned_reads_are_not_401_and_route_values_can_be_unknown()
    {
        var document = await DocumentAsync();

        var offers = Operation(document, "GET", "/api/offers");
        Assert.False(Responses(offers).TryGetProperty("401", out _), "GET /api/offers is not signed");
        Assert.False(Responses(offers).TryGetProperty("403", out _));
        Assert.Equal(ProblemSchema, SchemaRef(Response(offers, "400"), ProblemMediaType));

        var oneLease = Operation(document, "GET", "/api/leases/{id}");
        Assert.Equal(ProblemSchema, SchemaRef(Response(oneLease, "404"), ProblemMediaType));
        Assert.False(Responses(oneLease).TryGetProperty("401", out _), "GET /api/leases/{id} is not signed");

        // Someone else's lease: 403; a lease that is not Active has no key: 409.
        var key = Operation(document, "GET", "/api/leases/{id}/key");
        foreach (var status in new[] { "401", "403", "404", "409" }) Assert.Equal(ProblemSchema, SchemaRef(Response(key, status), ProblemMediaType));
        // A pool is created at the route that names it; draining one names a pool that may not exist.
        Assert.False(Responses(Operation(document, "PUT", "/api/pools/{provider}/{pool}")).TryGetProperty("404", out _));
        Assert.Equal(ProblemSchema, SchemaRef(Response(Operation(document, "POST", "/api/pools/{provider}/{pool}/slots/{index}/drain"), "404"), ProblemMediaType));
        // The catalog is the host's own list: no grain, no 503.
        Assert.False(Responses(Operation(document, "GET", "/api/catalog")).TryGetProperty("503", out _));
    }

    [Fact]
    public async Task Exactly_the_signed_operations_require_the_request_signature_and_the_host_agrees()
    {
        var document = await DocumentAsync();
        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("TenantSignature");
        Assert.Equal("apiKey", scheme.GetProperty("type").GetString());
        Assert.Equal("header", scheme.GetProperty("in").GetString());
        Assert.Equal("X-Occ-Signature", scheme.GetProperty("name").GetString());
        foreach (var words in new[] { "X-Occ-Tenant", "X-Occ-Timestamp", "sha256", "OrleansCompute request" })
            Assert.Contains(words, scheme.GetProperty("description").GetString());

        var apiOperations = Operations(document).Where(o => o.Path.StartsWith("/api/", StringComparison.Ordinal)).ToList();
        Assert.Equal(SignedOperations.Order(), apiOperations.Where(o => Schemes(o.Operation).Contains("TenantSignature")).Select(o => o.Name).Order());
        foreach (var (name, path, method, operation) in apiOperations)
        {
            var signed = SignedOperations.Contains(name);
            Assert.True(signed == Responses(operation).TryGetProperty("401", out _), $"{name}: 401 documented {!signed}");
            if (signed) Assert.Equal(["TenantAddress", "TenantSignature", "TenantTimestamp"], Schemes(operation).Order());
            else Assert.Empty(Schemes(operation));

            // The document says what the host does: an unsigned request is refused with 401 exactly where a signature is required.
            using var request = new HttpRequestMessage(new HttpMethod(method), Placeholders(path));
            if (method != "GET") request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
            using var response = await Http.SendAsync(request);
            Assert.True(signed == (response.StatusCode == HttpStatusCode.Unauthorized), $"{name} unsigned answered {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task The_OpenAI_compatible_operations_document_OpenAI_errors_and_the_lease_key_as_bearer()
    {
        var document = await DocumentAsync();
        var bearer = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("LeaseKey");
        Assert.Equal("http", bearer.GetProperty("type").GetString());
        Assert.Equal("bearer", bearer.GetProperty("scheme").GetString());

        var chat = Operation(document, "POST", "/v1/chat/completions");
        foreach (var status in new[] { "400", "401", "402", "404", "429", "502", "503" })
            Assert.Equal("#/components/schemas/OpenAiError", SchemaRef(Response(chat, status), "application/json"));
        Assert.False(Response(chat, "401").GetProperty("content").TryGetProperty(ProblemMediaType, out _));
        Assert.True(Response(chat, "429").GetProperty("headers").TryGetProperty("Retry-After", out _), "429 documents no Retry-After");
        Assert.Equal(["LeaseKey"], Schemes(chat));

        var error = document.GetProperty("components").GetProperty("schemas").GetProperty("OpenAiError").GetProperty("properties").GetProperty("error");
        foreach (var field in new[] { "message", "type", "param", "code" }) Assert.True(error.GetProperty("properties").TryGetProperty(field, out _), field);

        foreach (var (name, path, _, operation) in Operations(document).Where(o => o.Path.StartsWith("/v1/", StringComparison.Ordinal)))
        {
            Assert.Equal(["LeaseKey"], Schemes(operation));
            Assert.True(Responses(operation).TryGetProperty("401", out _), $"{name} documents no 401");
        }
    }

    [Fact]
    public async Task The_document_holds_the_API_and_none_of_the_dashboards_internals()
    {
        var paths = (await DocumentAsync()).GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();

        Assert.DoesNotContain(paths, p => p.StartsWith("/dashboard", StringComparison.Ordinal));
        foreach (var path in new[] { "/", "/healthz", "/api/offers", "/api/leases", "/v1/chat/completions", "/v1/models" }) Assert.Contains(path, paths);
    }

    [Fact]
    public async Task The_health_check_documents_its_answer_while_seeding_and_the_index_where_everything_is()
    {
        var document = await DocumentAsync();
        var health = Operation(document, "GET", "/healthz");
        var index = Operation(document, "GET", "/");

        foreach (var status in new[] { "200", "503" })
            Assert.Equal("#/components/schemas/HostHealth", SchemaRef(Response(health, status), "application/json"));
        var indexSchema = Resolve(document, Response(index, "200").GetProperty("content").GetProperty("application/json").GetProperty("schema"));
        Assert.True(indexSchema.GetProperty("properties").TryGetProperty("openApi", out _), "the index names the OpenAPI document");
        // And the host answers as documented.
        var answer = await Http.GetFromJsonAsync<JsonElement>("/");
        Assert.Equal("/openapi/v1.json", answer.GetProperty("openApi").GetString());
    }

    [Fact]
    public async Task Ids_and_amounts_are_described_as_the_strings_they_are()
    {
        var document = await DocumentAsync();
        var lease = Resolve(document, document.GetProperty("components").GetProperty("schemas").GetProperty("LeaseSnapshot"));

        var id = Resolve(document, lease.GetProperty("properties").GetProperty("id"));
        var deposit = Resolve(document, lease.GetProperty("properties").GetProperty("deposit"));

        Assert.Equal(("string", "uuid"), (id.GetProperty("type").GetString(), id.GetProperty("format").GetString()));
        Assert.Equal("string", deposit.GetProperty("type").GetString());
        Assert.Matches(deposit.GetProperty("pattern").GetString()!, "2.400000");
        Assert.DoesNotMatch(deposit.GetProperty("pattern").GetString()!, "2.4e3");
    }

    /// <summary>A schema, or the component schema its <c>$ref</c> names.</summary>
    private static JsonElement Resolve(JsonElement document, JsonElement schema) =>
        schema.TryGetProperty("$ref", out var reference)
            ? document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1])
            : schema;

    private static IEnumerable<(string Name, string Path, string Method, JsonElement Operation)> Operations(JsonElement document) =>
        from path in document.GetProperty("paths").EnumerateObject()
        from operation in path.Value.EnumerateObject()
        where operation.Name is "get" or "put" or "post" or "delete" or "patch"
        let method = operation.Name.ToUpperInvariant()
        select ($"{method} {path.Name}", path.Name, method, operation.Value);

    private static JsonElement Operation(JsonElement document, string method, string path) =>
        document.GetProperty("paths").GetProperty(path).GetProperty(method.ToLowerInvariant());

    private static JsonElement Responses(JsonElement operation) => operation.GetProperty("responses");

    private static JsonElement Response(JsonElement operation, string status) =>
        Responses(operation).TryGetProperty(status, out var response) ? response : throw new Xunit.Sdk.XunitException($"No {status} response documented.");

    private static string? SchemaRef(JsonElement response, string mediaType) =>
        response.GetProperty("content").GetProperty(mediaType).GetProperty("schema").GetProperty("$ref").GetString();

    /// <summary>The security schemes of the operation's requirements (all of them, whichever requirement names them).</summary>
    private static List<string> Schemes(JsonElement operation) =>
        operation.TryGetProperty("security", out var security)
            ? security.EnumerateArray().SelectMany(r => r.EnumerateObject().Select(s => s.Name)).ToList()
            : [];

    /// <summary>A path with its route values filled in: a number for an index, a word elsewhere.</summary>
    private static string Placeholders(string path) =>
        System.Text.RegularExpressions.Regex.Replace(path, @"\{(\w+)\}", m => m.Groups[1].Value == "index" ? "0" : "x");
}
