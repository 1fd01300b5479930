using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Cli.Devnet;
using Xunit;

namespace OrleansCompute.Integration.Tests.Infrastructure;

/// <summary>An answer of the gateway as a plain HTTP client sees it: status, body, and the OpenAI error code of a refusal.</summary>
public sealed record GatewayResponse(HttpStatusCode Status, string Body, TimeSpan? RetryAfter)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;
    public string? Code => Status == HttpStatusCode.OK ? null : Json.GetProperty("error").GetProperty("code").GetString();
    public string? Message => Status == HttpStatusCode.OK ? null : Json.GetProperty("error").GetProperty("message").GetString();
}

/// <summary>What gateway tests do on any market: lease capacity through occ and get its key, call /v1 with it.</summary>
public static class GatewayCalls
{
    /// <summary>An active one-hour lease (Trainium2 unless <paramref name="options"/> name a kind) and its API key, through occ.</summary>
    public static async Task<(LeaseSnapshot Lease, string ApiKey)> LeaseWithKeyAsync(this MarketFixture market, TenantWallet tenant, params string[] options)
    {
        var args = new List<string> { "lease", "create", "--hours", "1", "--tenant", tenant.Name, "--json" };
        if (!options.Contains("--kind")) args.AddRange(["--kind", "trainium2"]);
        args.AddRange(options);
        var created = await market.OccAsync([.. args]);
        Assert.True(created.ExitCode == 0, created.ToString());
        var lease = created.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal(LeaseStatus.Active, lease.Status);

        var key = await market.OccAsync("lease", "key", LeaseIds.Format(lease.Id), "--tenant", tenant.Name, "--json");
        Assert.True(key.ExitCode == 0, key.ToString());
        return (lease, key.Json.GetProperty("apiKey").GetString()!);
    }

    /// <summary>
    /// Sends <paramref name="body"/> again and again, each answer 200 until one is 402 Payment Required, which it returns;
    /// null when none came in <paramref name="attempts"/>.
    /// </summary>
    public static async Task<GatewayResponse?> PostUntilPaymentRequiredAsync(this MarketFixture market, string apiKey, string path, object body,
        int attempts = 10)
    {
        for (var i = 0; i < attempts; i++)
        {
            var answer = await market.PostInferenceAsync(apiKey, path, body);
            if (answer.Status == HttpStatusCode.PaymentRequired) return answer;
            Assert.Equal(HttpStatusCode.OK, answer.Status);
        }
        return null;
    }

    public static Task<GatewayResponse> PostInferenceAsync(this MarketFixture market, string? apiKey, string path, object body) =>
        market.PostInferenceRawAsync(apiKey, path, JsonSerializer.Serialize(body));

    public static async Task<GatewayResponse> PostInferenceRawAsync(this MarketFixture market, string? apiKey, string path, string body,
        string mediaType = "application/json")
    {
        using var http = new HttpClient { BaseAddress = new Uri(market.Devnet.ApiUrl) };
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, mediaType) };
        if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await http.SendAsync(request);
        return new GatewayResponse(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.RetryAfter?.Delta);
    }
}
