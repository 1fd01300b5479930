using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Orders;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Cli.Api;

/// <summary>
/// The host's HTTP API as a tenant uses it. Requests that act for a tenant are signed with the tenant's key
/// here, on the client; the key itself never leaves this process.
/// </summary>
public sealed class MarketApiClient(HttpClient http, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public Uri BaseAddress => http.BaseAddress!;

    public Task<List<Offer>> GetOffersAsync(string? kind, string? region, CancellationToken ct, string? sort = null) =>
        SendAsync<List<Offer>>(HttpMethod.Get, "/api/offers" + Query(("kind", kind), ("region", region), ("sort", sort)), null, null, ct);

    public Task<Quote> QuoteAsync(LeaseRequest request, CancellationToken ct) =>
        SendAsync<Quote>(HttpMethod.Post, "/api/quotes", request, null, ct);

    public Task<LeaseSnapshot> CreateLeaseAsync(LeaseRequest request, string tenantKey, CancellationToken ct) =>
        SendAsync<LeaseSnapshot>(HttpMethod.Post, "/api/leases", request, tenantKey, ct);

    public Task<List<LeaseSnapshot>> ListLeasesAsync(string tenantKey, CancellationToken ct) =>
        SendAsync<List<LeaseSnapshot>>(HttpMethod.Get, "/api/leases", null, tenantKey, ct);

    public Task<LeaseSnapshot> GetLeaseAsync(string leaseId, CancellationToken ct) =>
        SendAsync<LeaseSnapshot>(HttpMethod.Get, $"/api/leases/{Uri.EscapeDataString(leaseId)}", null, null, ct);

    public Task<LeaseSnapshot> EndLeaseAsync(string leaseId, string tenantKey, CancellationToken ct) =>
        SendAsync<LeaseSnapshot>(HttpMethod.Post, $"/api/leases/{Uri.EscapeDataString(leaseId)}/end", null, tenantKey, ct);

    /// <summary>A usage voucher: its signature is its authority, so the request itself is not signed.</summary>
    public Task<LeaseSnapshot> SubmitUsageVoucherAsync(string leaseId, SignedVoucher voucher, CancellationToken ct) =>
        SendAsync<LeaseSnapshot>(HttpMethod.Post, $"/api/leases/{Uri.EscapeDataString(leaseId)}/vouchers", voucher, null, ct);

    public Task<LeaseKey> GetLeaseKeyAsync(string leaseId, string tenantKey, CancellationToken ct) =>
        SendAsync<LeaseKey>(HttpMethod.Get, $"/api/leases/{Uri.EscapeDataString(leaseId)}/key", null, tenantKey, ct);

    public Task<LeaseSnapshot> SubmitVoucherAsync(string leaseId, SignedVoucher voucher, string tenantKey, CancellationToken ct) =>
        SendAsync<LeaseSnapshot>(HttpMethod.Post, $"/api/leases/{Uri.EscapeDataString(leaseId)}/voucher", voucher, tenantKey, ct);

    public Task<StandingOrder> PlaceOrderAsync(PlaceOrderRequest order, string tenantKey, CancellationToken ct) =>
        SendAsync<StandingOrder>(HttpMethod.Post, "/api/orders", order, tenantKey, ct);

    public Task<List<StandingOrder>> ListOrdersAsync(string tenantKey, CancellationToken ct) =>
        SendAsync<List<StandingOrder>>(HttpMethod.Get, "/api/orders", null, tenantKey, ct);

    public Task<StandingOrder> CancelOrderAsync(string orderId, string tenantKey, CancellationToken ct) =>
        SendAsync<StandingOrder>(HttpMethod.Post, $"/api/orders/{Uri.EscapeDataString(orderId)}/cancel", null, tenantKey, ct);

    /// <summary>Creates the pool, or changes its size and prices; signed with its provider's payout key.</summary>
    public Task<PoolSnapshot> DefinePoolAsync(PoolDefinition definition, string providerKey, CancellationToken ct) =>
        SendAsync<PoolSnapshot>(HttpMethod.Put, $"/api/pools/{definition.PoolKey}", definition, providerKey, ct);

    public Task<JsonElement> DrainSlotAsync(string poolKey, int index, int noticeMinutes, string providerKey, CancellationToken ct) =>
        SendAsync<JsonElement>(HttpMethod.Post, $"/api/pools/{poolKey}/slots/{index}/drain", new { noticeMinutes }, providerKey, ct);

    public Task<JsonElement> InspectAsync(string kind, string key, CancellationToken ct) =>
        SendAsync<JsonElement>(HttpMethod.Get, $"/api/inspect/{Uri.EscapeDataString(kind)}/{key}", null, null, ct);

    public Task<JsonElement> GetActiveAsync(CancellationToken ct) =>
        SendAsync<JsonElement>(HttpMethod.Get, "/api/inspect/active", null, null, ct);

    public Task<JsonElement> GetAuditAsync(CancellationToken ct) =>
        SendAsync<JsonElement>(HttpMethod.Get, "/api/audit", null, null, ct);

    public Task<JsonElement> GetChainAsync(CancellationToken ct) =>
        SendAsync<JsonElement>(HttpMethod.Get, "/api/chain", null, null, ct);

    public async Task<bool> IsHealthyAsync(CancellationToken ct)
    {
        try
        {
            using var response = await http.GetAsync("/healthz", ct);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (Exception e) when (e is TimeoutException || (e is TaskCanceledException && !ct.IsCancellationRequested))
        {
            // A timeout, the client's or the failover handler's: a host that does not answer is not healthy.
            return false;
        }
    }

    /// <summary>
    /// How often a signed write is signed anew when the host answers <see cref="ReplayedRequest"/>: it received that exact
    /// request before, which this client never sends twice, so it was another with the same key, path and body signed in
    /// the same second (another occ, say). Each time one second later.
    /// </summary>
    private const int ReplaySignings = 5;

    /// <summary>The reason the host gives a signed request it received before.</summary>
    private const string ReplayedRequest = "ReplayedRequest";

    private async Task<T> SendAsync<T>(HttpMethod method, string pathAndQuery, object? body, string? tenantKey, CancellationToken ct)
    {
        var bytes = body is null ? [] : JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), ApiJson.Options);
        var signedAt = _clock.GetUtcNow();
        for (var signing = 1; ; signing++)
        {
            try
            {
                return await SendOnceAsync<T>(method, pathAndQuery, bytes, body is not null, tenantKey, signedAt, ct);
            }
            catch (ApiException refused) when (refused.Reason == ReplayedRequest && signing < ReplaySignings)
            {
                // The host refused it unread: a signature with a later timestamp is a request it has not seen.
                signedAt = Max(_clock.GetUtcNow(), signedAt.AddSeconds(1));
            }
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private async Task<T> SendOnceAsync<T>(HttpMethod method, string pathAndQuery, byte[] bytes, bool hasBody, string? tenantKey,
        DateTimeOffset signedAt, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, pathAndQuery);
        if (hasBody)
        {
            request.Content = new ByteArrayContent(bytes);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        if (tenantKey is not null) Sign(request, method, pathAndQuery, bytes, tenantKey, signedAt);

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct);
        }
        catch (HostsUnreachableException e)
        {
            throw new ApiException(0, "HostUnreachable", $"{e.Message}. Is `occ devnet up` running?", null, null);
        }
        catch (HttpRequestException e)
        {
            throw new ApiException(0, "HostUnreachable", $"No host answers at {http.BaseAddress}: {e.Message}. Is `occ devnet up` running?", null, null);
        }
        catch (TimeoutException e)
        {
            throw new ApiException(0, "HostTimeout", e.Message, null, null);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode) throw await ProblemAsync(response, ct);
            return await response.Content.ReadFromJsonAsync<T>(ApiJson.Options, ct)
                ?? throw new ApiException((int)response.StatusCode, "EmptyAnswer", $"{method} {pathAndQuery} answered with no body.", null, null);
        }
    }

    private static void Sign(HttpRequestMessage request, HttpMethod method, string pathAndQuery, byte[] body, string tenantKey, DateTimeOffset signedAt)
    {
        var signed = RequestSigner.Sign(tenantKey, method.Method, pathAndQuery, signedAt, body);
        request.Headers.Add(RequestSigner.TenantHeader, signed.Tenant);
        request.Headers.Add(RequestSigner.TimestampHeader, signed.TimestampText);
        request.Headers.Add(RequestSigner.SignatureHeader, signed.Signature);
    }

    private static async Task<ApiException> ProblemAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            using var problem = JsonDocument.Parse(text);
            var root = problem.RootElement;
            return new ApiException(status,
                Text(root, "title") ?? response.ReasonPhrase ?? status.ToString(),
                Text(root, "detail"), Text(root, "field"), Text(root, "reason"));
        }
        catch (JsonException)
        {
            return new ApiException(status, response.ReasonPhrase ?? status.ToString(), string.IsNullOrWhiteSpace(text) ? null : text, null, null);
        }
    }

    private static string? Text(JsonElement root, string name) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static string Query(params (string Name, string? Value)[] parameters)
    {
        var present = parameters.Where(p => p.Value is not null).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}").ToList();
        return present.Count == 0 ? "" : "?" + string.Join("&", present);
    }
}

/// <summary>An active lease's key for the host's <c>/v1</c> inference routes.</summary>
public sealed record LeaseKey(string LeaseId, string ApiKey);
