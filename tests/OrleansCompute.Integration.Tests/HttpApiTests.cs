using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Orders;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Cli.Api;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>The host's HTTP contract: signatures, problem documents, vouchers, inspection, OpenAPI and the dashboard.</summary>
[Collection(MarketCollection.Name)]
public sealed class HttpApiTests(MarketFixture market)
{
    private HttpClient Http => new() { BaseAddress = new Uri(market.Devnet.ApiUrl) };

    [Fact]
    public async Task An_unsigned_request_to_lease_is_refused_with_401_and_reserves_nothing()
    {
        var before = await market.FreeSlotsAsync("helios/mi300x-usw2");

        using var response = await Http.PostAsJsonAsync("/api/leases", new LeaseRequest("mi300x", 1, 1), ApiJson.Options);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(before, await market.FreeSlotsAsync("helios/mi300x-usw2"));
    }

    [Fact]
    public async Task A_request_signed_by_one_tenant_but_claiming_another_is_refused()
    {
        var (signer, claimed) = (market.Wallets[0], market.Wallets[1]);
        using var request = SignedLeaseRequest(new LeaseRequest("mi300x", 1, 1), signer.PrivateKey, claimedTenant: claimed.Address);

        using var response = await Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("does not match", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_bad_request_gets_a_problem_document_naming_the_field()
    {
        using var request = SignedLeaseRequest(new LeaseRequest("h100", 0, 1), market.Wallets[0].PrivateKey);

        using var response = await Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("slots", problem.GetProperty("field").GetString());
        Assert.Equal("OutOfRange", problem.GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData("h100")]
    [InlineData("any")]
    public async Task A_max_price_per_million_tokens_beyond_any_price_caps_nothing_for_quotes_leases_and_orders(string kind)
    {
        var tenant = market.Wallets[1];
        var api = market.Api;
        // 10^12 credits per 1M tokens: an amount of credits, but more per slot-hour than an amount can hold.
        var request = new LeaseRequest(kind, 1, 1) { MaxPricePerMillionTokens = Credits.FromCredits(1_000_000_000_000m) };

        if (kind != "any") Assert.Equal(kind, (await api.QuoteAsync(request, default)).Kind);
        var lease = await api.CreateLeaseAsync(request, tenant.PrivateKey, default);
        await api.EndLeaseAsync(LeaseIds.Format(lease.Id), tenant.PrivateKey, default);
        if (kind == "any") return;
        var order = await api.PlaceOrderAsync(new PlaceOrderRequest(request, 5), tenant.PrivateKey, default);
        if (order.LeaseId is { } filled) await api.EndLeaseAsync(LeaseIds.Format(filled), tenant.PrivateKey, default);
        else await api.CancelOrderAsync(order.Id, tenant.PrivateKey, default);
    }

    [Fact]
    public async Task The_same_signed_write_sent_again_is_refused_as_a_replay_and_reserves_nothing_more()
    {
        var tenant = market.Wallets[0];
        var signedAt = DateTimeOffset.UtcNow;
        var body = """{"kind":"mi300x","slots":1,"hours":1,"region":"us-west-2"}""";
        var (free, leases) = (await market.FreeSlotsAsync("helios/mi300x-usw2"), (await market.Api.ListLeasesAsync(tenant.PrivateKey, default)).Count);

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++) responses.Add(await Http.SendAsync(SignedRequests.Create(HttpMethod.Post, "/api/leases", body, tenant.PrivateKey, signedAt: signedAt)));

        Assert.Equal(HttpStatusCode.Created, responses[0].StatusCode);
        var lease = (await responses[0].Content.ReadFromJsonAsync<LeaseSnapshot>(ApiJson.Options))!;
        foreach (var replay in responses.Skip(1))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, replay.StatusCode);
            Assert.Equal("application/problem+json", replay.Content.Headers.ContentType?.MediaType);
            var problem = await replay.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(("ReplayedRequest", RequestSigner.SignatureHeader), (problem.GetProperty("reason").GetString(), problem.GetProperty("field").GetString()));
        }
        Assert.Equal(free - 1, await market.FreeSlotsAsync("helios/mi300x-usw2"));
        Assert.Equal(leases + 1, (await market.Api.ListLeasesAsync(tenant.PrivateKey, default)).Count);

        // The same intent signed again is a new request; ending it, too, is good once.
        var end = SignedRequests.Create(HttpMethod.Post, $"/api/leases/{LeaseIds.Format(lease.Id)}/end", "", tenant.PrivateKey, signedAt: DateTimeOffset.UtcNow);
        using var ended = await Http.SendAsync(end);
        Assert.Equal(HttpStatusCode.OK, ended.StatusCode);
        Assert.Equal(free, await market.FreeSlotsAsync("helios/mi300x-usw2"));
    }

    [Fact]
    public async Task A_signed_read_may_be_sent_again()
    {
        var tenant = market.Wallets[0];
        var signedAt = DateTimeOffset.UtcNow;

        using var first = await Http.SendAsync(SignedRequests.Create(HttpMethod.Get, "/api/leases", "", tenant.PrivateKey, signedAt: signedAt));
        using var again = await Http.SendAsync(SignedRequests.Create(HttpMethod.Get, "/api/leases", "", tenant.PrivateKey, signedAt: signedAt));

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, again.StatusCode));
    }

    [Fact]
    public async Task Identical_writes_signed_in_the_same_second_by_two_occ_runs_both_take_effect()
    {
        var tenant = market.Wallets[4];
        string[] place = ["order", "place", "--kind", "h100", "--hours", "1", "--max-price", "0.01", "--valid-for", "5", "--tenant", tenant.Name, "--json"];

        var placed = await Task.WhenAll(market.OccAsync(place), market.OccAsync(place));

        Assert.All(placed, p => Assert.True(p.ExitCode == 0, p.ToString()));
        var ids = placed.Select(p => p.Json.GetProperty("id").GetString()!).ToList();
        Assert.Equal(2, ids.Distinct().Count());
        foreach (var id in ids) Assert.Equal(0, (await market.OccAsync("order", "cancel", id, "--tenant", tenant.Name)).ExitCode);
    }

    [Fact]
    public async Task A_malformed_lease_id_or_unknown_lease_gets_400_or_404()
    {
        using var malformed = await Http.GetAsync("/api/leases/not-a-lease");
        using var unknown = await Http.GetAsync($"/api/leases/{Guid.NewGuid():N}");

        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task A_final_voucher_for_the_wrong_amount_or_from_the_wrong_key_is_refused_and_the_right_one_settles()
    {
        var tenant = market.Wallets[3];
        var created = await market.OccAsync("lease", "create", "--kind", "mi300x", "--hours", "3", "--tenant", tenant.Name, "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var leaseId = LeaseIds.Format(created.Json.GetProperty("lease").GetProperty("id").GetGuid());
        var api = market.Api;
        var ended = await api.EndLeaseAsync(leaseId, tenant.PrivateKey, default);
        Assert.Equal(LeaseStatus.Ended, ended.Status);
        var signer = new VoucherSigner(market.Devnet.ChainId, market.Devnet.EscrowAddress);
        var owed = ended.VoucherToSign!.Amount;

        var tooMuch = signer.Sign(tenant.PrivateKey, ended.Id, ended.Channel!.Value, owed + Credits.FromUnits(1), isFinal: true);
        var wrongKey = signer.Sign(market.Wallets[0].PrivateKey, ended.Id, ended.Channel!.Value, owed, isFinal: true);
        var otherEscrow = new VoucherSigner(market.Devnet.ChainId, market.Devnet.CreditAddress).Sign(tenant.PrivateKey, ended.Id, ended.Channel!.Value, owed, isFinal: true);

        Assert.Equal("amount", (await Assert.ThrowsAsync<ApiException>(() => api.SubmitVoucherAsync(leaseId, tooMuch, tenant.PrivateKey, default))).Field);
        Assert.Equal("signature", (await Assert.ThrowsAsync<ApiException>(() => api.SubmitVoucherAsync(leaseId, wrongKey, tenant.PrivateKey, default))).Field);
        Assert.Equal("signature", (await Assert.ThrowsAsync<ApiException>(() => api.SubmitVoucherAsync(leaseId, otherEscrow, tenant.PrivateKey, default))).Field);
        var untouched = await api.GetLeaseAsync(leaseId, default);
        Assert.Equal(LeaseStatus.Ended, untouched.Status);
        Assert.Null(untouched.FinalVoucher);
        Assert.False((await market.OnChainAsync(ended.Id))!.Closed);

        await api.SubmitVoucherAsync(leaseId, signer.Sign(tenant.PrivateKey, ended.Id, ended.Channel!.Value, owed, isFinal: true), tenant.PrivateKey, default);
        var settled = await Eventually.WaitForAsync(() => api.GetLeaseAsync(leaseId, default), l => l.Status == LeaseStatus.Settled);
        Assert.Equal(owed, settled.Paid);
        Assert.Equal(owed, (await market.OnChainAsync(ended.Id))!.Paid);
        await market.AssertConservedAsync();
    }

    [Fact]
    public async Task Tenants_racing_for_the_last_slots_over_http_never_get_the_same_slot()
    {
        const string pool = "gpu-hub/h200-euw1";
        var free = await market.FreeSlotsAsync(pool);
        var api = market.Api;
        // Every tenant that can pay: one without credits is refused before it races (402 InsufficientFunds).
        var attempts = market.Wallets.Where(w => w != market.BrokeTenant).Select(w => Attempt(w.PrivateKey)).ToList();
        var results = await Task.WhenAll(attempts);

        var won = results.OfType<LeaseSnapshot>().ToList();
        Assert.Equal(free / 2, won.Count);
        Assert.Equal(won.Count * 2, won.SelectMany(l => l.SlotKeys).Distinct().Count());
        Assert.Equal(free - won.Count * 2, await market.FreeSlotsAsync(pool));

        foreach (var lease in won)
        {
            var wallet = market.Wallets.Single(w => string.Equals(w.Address, lease.Tenant, StringComparison.OrdinalIgnoreCase));
            Assert.Equal(LeaseStatus.Cancelled, (await api.EndLeaseAsync(LeaseIds.Format(lease.Id), wallet.PrivateKey, default)).Status);
        }
        Assert.Equal(free, await market.FreeSlotsAsync(pool));

        async Task<LeaseSnapshot?> Attempt(string key)
        {
            try
            {
                return await api.CreateLeaseAsync(new LeaseRequest("h200", 2, 1), key, default);
            }
            catch (ApiException refused) when (refused.Status == 409 && refused.Reason == "NoCapacityInWindow")
            {
                return null;
            }
        }
    }

    [Fact]
    public async Task The_chain_endpoint_shows_the_contracts_and_a_balanced_escrow()
    {
        var chain = await market.Api.GetChainAsync(default);

        Assert.Equal(market.Devnet.EscrowAddress, chain.GetProperty("escrowAddress").GetString(), ignoreCase: true);
        Assert.True(chain.GetProperty("conserved").GetBoolean());
        Assert.True(chain.GetProperty("watcherBlock").GetInt64() >= market.Devnet.DeployBlock);
    }

    [Theory]
    [InlineData("pool", "neuron-cloud/trn2-use1", "definition")]
    [InlineData("slot", "neuron-cloud/trn2-use1/0", "status")]
    [InlineData("market", "trainium2", "pools")]
    [InlineData("account", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "pools")]
    [InlineData("settlement", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "items")]
    [InlineData("settlement", "neuron-cloud", "items")]
    public async Task Inspect_shows_a_grain_as_it_holds_its_state(string kind, string key, string property)
    {
        var inspected = await market.OccAsync("inspect", kind, key);

        Assert.True(inspected.ExitCode == 0, inspected.ToString());
        Assert.True(inspected.Json.TryGetProperty(property, out _), inspected.Output);
    }

    [Fact]
    public async Task Inspect_active_lists_the_active_grains_by_type()
    {
        var active = await market.OccAsync("inspect", "active");

        Assert.True(active.ExitCode == 0, active.ToString());
        var types = active.Json.EnumerateArray().Select(a => a.GetProperty("grainType").GetString()).ToList();
        Assert.Contains("PoolGrain", types);
        Assert.Contains("MarketGrain", types);
        Assert.All(active.Json.EnumerateArray(), a => Assert.True(a.GetProperty("count").GetInt32() > 0));
        // One host, one silo: named as /api/chain names the silo that watches the chain.
        var chain = await Http.GetFromJsonAsync<JsonElement>("/api/chain");
        Assert.All(active.Json.EnumerateArray(), a => Assert.Equal(chain.GetProperty("watchedBy").GetString(), a.GetProperty("silo").GetString()));
    }

    [Theory]
    [InlineData("wallet", "x", "(field: kind)")]
    [InlineData("account", "0x12", "(field: key)")]
    [InlineData("settlement", "0x12", "(field: key)")]
    [InlineData("settlement", "no-such-provider", "UnknownProvider")]
    [InlineData("slot", "no-index", "(field: key)")]
    [InlineData("lease", "nope", "(field: id)")]
    public async Task Inspect_refuses_unknown_kinds_and_malformed_keys(string kind, string key, string expected)
    {
        var refused = await market.OccAsync("inspect", kind, key);

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains(expected, refused.Error);
    }

    [Fact]
    public async Task The_openapi_document_health_check_dashboard_and_an_index_at_the_root_answer()
    {
        var openApi = await Http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = openApi.GetProperty("paths");
        foreach (var path in new[] { "/api/offers", "/api/leases", "/api/leases/{id}", "/api/leases/{id}/end", "/api/chain", "/healthz" })
            Assert.True(paths.TryGetProperty(path, out _), $"OpenAPI lacks {path}");

        using var health = await Http.GetAsync("/healthz");
        using var dashboard = await Http.GetAsync("/dashboard");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Contains("html", dashboard.Content.Headers.ContentType?.MediaType);

        // The host's own address says where each of them is.
        var index = await Http.GetFromJsonAsync<JsonElement>("/");
        foreach (var (name, path) in new[] { ("openApi", "/openapi/v1.json"), ("dashboard", "/dashboard"), ("health", "/healthz"), ("openAi", "/v1") })
            Assert.Equal(path, index.GetProperty(name).GetString());
    }

    /// <summary>A <c>POST /api/leases</c> signed with <paramref name="signerKey"/>, claiming to come from <paramref name="claimedTenant"/> (the signer by default).</summary>
    private static HttpRequestMessage SignedLeaseRequest(LeaseRequest lease, string signerKey, string? claimedTenant = null) =>
        SignedRequests.Create(HttpMethod.Post, "/api/leases", JsonSerializer.SerializeToUtf8Bytes(lease, ApiJson.Options), signerKey, claimedTenant);
}
