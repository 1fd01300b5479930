using System.Net;
using System.Text;
using System.Text.Json;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Cli.Devnet;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// Bad input over HTTP: a 4xx problem document naming the field and the reason, never a 500 or a bare 400, and nothing
/// changed (no slot reserved, no lease, order or pool made).
/// </summary>
[Collection(MarketCollection.Name)]
public sealed class HttpBadInputTests(MarketFixture market)
{
    private const string Lease = """{"kind":"trainium2","slots":1,"hours":1""";

    private HttpClient Http => new() { BaseAddress = new Uri(market.Devnet.ApiUrl) };

    private TenantWallet Tenant => market.Wallets[2];

    [Theory]
    [InlineData("\"99999999999999999999999\"")]
    [InlineData("\"9223372036854.775808\"")]
    [InlineData("1e300")]
    [InlineData("\"1e30\"")]
    [InlineData("\"2.4000001\"")]
    [InlineData("\"two\"")]
    [InlineData("true")]
    public async Task A_price_that_is_no_amount_of_credits_is_400_naming_the_field(string price)
    {
        await AssertRefusedAndNothingReservedAsync(Lease + $$""","maxPricePerSlotHour":{{price}}}""", "maxPricePerSlotHour", "InvalidValue");
    }

    [Theory]
    [InlineData("7")]
    [InlineData("\"7\"")]
    [InlineData("\"Bananas\"")]
    public async Task A_billing_mode_that_is_not_one_of_its_names_is_400(string billBy)
    {
        var problem = await AssertRefusedAndNothingReservedAsync(Lease + $$""","billBy":{{billBy}}}""", "billBy", "InvalidValue");

        Assert.Contains("Hours, Tokens", problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData(""","slots":1""", "slots", "MalformedJson")]
    [InlineData("", "hours", "MalformedJson")]
    [InlineData(""","slots":4294967297}""", "slots", "InvalidValue")]
    [InlineData(""","hours":2147483648}""", "hours", "InvalidValue")]
    [InlineData(""","slots":1.5}""", "slots", "InvalidValue")]
    [InlineData(""","slots":"1"}""", "slots", "InvalidValue")]
    [InlineData(""","minMemoryGiB":"150"}""", "minMemoryGiB", "InvalidValue")]
    [InlineData(""","start":"not-a-date"}""", "start", "InvalidValue")]
    [InlineData(""","minMemoryGiB":99999999999}""", "minMemoryGiB", "InvalidValue")]
    [InlineData(""","providers":[1]}""", "providers[0]", "InvalidValue")]
    [InlineData("}x", "body", "MalformedJson")]
    public async Task A_lease_body_that_does_not_bind_is_400_naming_the_field(string rest, string field, string reason)
    {
        var problem = await AssertRefusedAndNothingReservedAsync(Lease + rest, field, reason);

        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task A_fractional_slot_count_is_refused_as_not_a_whole_number()
    {
        // Not the theory's 1.5: the same signed body twice within a second is refused as a replay before it is read.
        var problem = await AssertRefusedAndNothingReservedAsync(Lease + ""","slots":2.5}""", "slots", "InvalidValue");

        Assert.Equal("'slots' must be a whole number up to 2,147,483,647.", problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("""{"kind":"trainium2","slots":1}""", "hours", "'hours' is required.")]
    [InlineData("""{"hours":1}""", "kind", "'kind', 'slots' are required.")]
    public async Task A_lease_body_that_leaves_out_a_required_field_is_400_naming_it(string body, string field, string detail)
    {
        var problem = await AssertRefusedAndNothingReservedAsync(body, field, "Required");

        Assert.Equal(detail, problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_quote_for_too_many_slots_to_count_is_400_naming_the_field()
    {
        using var response = await Http.PostAsync("/api/quotes", Json("""{"kind":"trainium2","slots":4294967297,"hours":1}"""));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "slots", "InvalidValue");
        Assert.Contains("whole number", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_request_without_a_body_or_not_in_json_is_refused_naming_the_body()
    {
        var before = await FreeSlotsAsync();

        using var empty = await Http.SendAsync(SignedRequests.Create(HttpMethod.Post, "/api/leases", "", Tenant.PrivateKey));
        using var text = SignedRequests.Create(HttpMethod.Post, "/api/leases", Lease + "}", Tenant.PrivateKey);
        text.Content!.Headers.ContentType = new("text/plain");
        using var notJson = await Http.SendAsync(text);

        await AssertProblemAsync(empty, HttpStatusCode.BadRequest, "body", "MissingBody");
        await AssertProblemAsync(notJson, HttpStatusCode.UnsupportedMediaType, "body", "UnsupportedMediaType");
        Assert.Equal(before, await FreeSlotsAsync());
    }

    [Theory]
    [InlineData("""{"amount":"99999999999999999999999"}""", "amount")]
    [InlineData("""{"amount":"1e30"}""", "amount")]
    [InlineData("""{"amount":"0.0000001"}""", "amount")]
    [InlineData("""{"channel":-1}""", "channel")]
    [InlineData("""{"isFinal":"yes"}""", "isFinal")]
    public async Task A_voucher_that_does_not_bind_is_400_and_leaves_the_lease_as_it_was(string voucher, string field)
    {
        var lease = await market.Api.CreateLeaseAsync(new LeaseRequest("trainium2", 1, 1), Tenant.PrivateKey, default);
        var id = LeaseIds.Format(lease.Id);
        try
        {
            using var usage = await Http.PostAsync($"/api/leases/{id}/vouchers", Json(voucher));
            using var final = await Http.SendAsync(SignedRequests.Create(HttpMethod.Post, $"/api/leases/{id}/voucher", voucher, Tenant.PrivateKey));

            await AssertProblemAsync(usage, HttpStatusCode.BadRequest, field, "InvalidValue");
            await AssertProblemAsync(final, HttpStatusCode.BadRequest, field, "InvalidValue");
            var after = await market.Api.GetLeaseAsync(id, default);
            Assert.Equal((lease.Status, lease.LastVoucher, lease.FinalVoucher), (after.Status, after.LastVoucher, after.FinalVoucher));
        }
        finally
        {
            await market.Api.EndLeaseAsync(id, Tenant.PrivateKey, default);
        }
    }

    [Fact]
    public async Task A_voucher_names_its_lease_as_occ_prints_it_or_with_dashes_and_a_lease_id_that_is_none_is_refused_by_name()
    {
        // Both forms bind: the voucher reaches the lease, which does not exist.
        foreach (var id in (string[])["0197c0de00007000800000000000000a", "0197c0de-0000-7000-8000-00000000000a"])
        {
            using var usage = await Http.PostAsync($"/api/leases/{id}/vouchers", Json($$"""{"leaseId":"{{id}}","channel":0,"amount":"1","isFinal":false,"signature":"0x00"}"""));
            await AssertProblemAsync(usage, HttpStatusCode.NotFound, null, "UnknownLease");
        }

        using var garbled = await Http.PostAsync("/api/leases/0197c0de00007000800000000000000a/vouchers",
            Json("""{"leaseId":"0197c0de-not-a-lease","channel":0,"amount":"1","isFinal":false,"signature":"0x00"}"""));
        var problem = await AssertProblemAsync(garbled, HttpStatusCode.BadRequest, "leaseId", "InvalidValue");
        Assert.Contains("32 hex digits", problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"lease":null,"validForMinutes":30}""")]
    public async Task An_order_without_its_lease_is_400_naming_the_lease(string order)
    {
        var before = (await market.Api.ListOrdersAsync(Tenant.PrivateKey, default)).Count;

        using var response = await Http.SendAsync(SignedRequests.Create(HttpMethod.Post, "/api/orders", order, Tenant.PrivateKey));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "lease", "Required");
        Assert.Equal(before, (await market.Api.ListOrdersAsync(Tenant.PrivateKey, default)).Count);
    }

    [Fact]
    public async Task An_order_whose_lease_leaves_out_a_field_is_400_naming_the_nested_field()
    {
        using var response = await Http.SendAsync(SignedRequests.Create(HttpMethod.Post, "/api/orders",
            """{"lease":{"kind":"trainium2","slots":1}}""", Tenant.PrivateKey));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "lease.hours", "Required");
    }

    [Fact]
    public async Task An_order_whose_lease_does_not_bind_is_400_naming_the_nested_field()
    {
        using var response = await Http.SendAsync(SignedRequests.Create(HttpMethod.Post, "/api/orders",
            """{"lease":{"kind":"trainium2","slots":"x","hours":1}}""", Tenant.PrivateKey));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "lease.slots", "InvalidValue");
    }

    [Theory]
    [InlineData("""{"kind":"trainium2","slots":99,"hours":1}""", "lease.slots", "OutOfRange")]
    [InlineData("""{"kind":"trainium2","slots":1,"hours":0}""", "lease.hours", "OutOfRange")]
    [InlineData("""{"kind":"tpu-v9","slots":1,"hours":1}""", "lease.kind", "UnknownKind")]
    public async Task An_order_whose_lease_the_market_refuses_names_the_nested_field_as_binding_does(string lease, string field, string reason)
    {
        var before = (await market.Api.ListOrdersAsync(Tenant.PrivateKey, default)).Count;

        using var response = await Http.SendAsync(SignedRequests.Create(HttpMethod.Post, "/api/orders",
            $$"""{"lease":{{lease}},"validForMinutes":30}""", Tenant.PrivateKey));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, field, reason);
        Assert.Equal(before, (await market.Api.ListOrdersAsync(Tenant.PrivateKey, default)).Count);
    }

    [Theory]
    [InlineData("", "payoutAddress", "Required")]
    [InlineData(""","payoutAddress":"0x1234" """, "payoutAddress", "MalformedAddress")]
    [InlineData(""","payoutAddress":null""", "payoutAddress", "MalformedAddress")]
    [InlineData(""","payoutAddress":"{provider}","providerId":null""", "providerId", "InvalidName")]
    [InlineData(""","payoutAddress":"{provider}","poolName":"" """, "poolName", "InvalidName")]
    [InlineData(""","payoutAddress":"{provider}","slotCount":"many" """, "slotCount", "InvalidValue")]
    public async Task A_pool_definition_with_a_missing_or_malformed_field_is_400_and_defines_nothing(string rest, string field, string reason)
    {
        var provider = market.Wallets[1];
        var pool = "bad-input-" + Guid.NewGuid().ToString("N")[..8];
        var body = $$"""{"providerId":"acme","poolName":"{{pool}}","kind":"h100","region":"us-east-1","slotCount":2,"floorPricePerSlotHour":"2.000000" """
            + rest.Replace("{provider}", provider.Address) + "}";

        using var response = await Http.SendAsync(SignedRequests.Create(HttpMethod.Put, $"/api/pools/acme/{pool}", body, provider.PrivateKey));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, field, reason);
        using var inspected = await Http.GetAsync($"/api/inspect/pool/acme/{pool}");
        Assert.Equal(HttpStatusCode.NotFound, inspected.StatusCode);
    }

    [Fact]
    public async Task A_pool_definition_leaving_out_many_fields_names_them_all_at_once()
    {
        var provider = market.Wallets[1];
        var pool = "bad-input-" + Guid.NewGuid().ToString("N")[..8];

        using var response = await Http.SendAsync(SignedRequests.Create(HttpMethod.Put, $"/api/pools/acme/{pool}", """{"slotCount":5}""", provider.PrivateKey));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "providerId", "Required");
        Assert.Equal("'providerId', 'poolName', 'kind', 'region', 'floorPricePerSlotHour', 'payoutAddress' are required.",
            problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("9223372036854775807", "StaleTimestamp")]
    [InlineData("-9223372036854775808", "StaleTimestamp")]
    [InlineData("253402300800", "StaleTimestamp")]
    [InlineData("0", "StaleTimestamp")]
    [InlineData("soon", "MalformedTimestamp")]
    public async Task A_signature_timestamp_out_of_any_range_is_401_naming_the_header(string timestamp, string reason)
    {
        var before = await FreeSlotsAsync();
        using var request = SignedRequests.Create(HttpMethod.Post, "/api/leases", Lease + "}", Tenant.PrivateKey);
        request.Headers.Remove(RequestSigner.TimestampHeader);
        request.Headers.Add(RequestSigner.TimestampHeader, timestamp);

        using var response = await Http.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, RequestSigner.TimestampHeader, reason);
        Assert.Equal(before, await FreeSlotsAsync());
    }

    [Fact]
    public async Task A_401_says_why_the_signature_was_refused()
    {
        var (signer, claimed) = (Tenant, market.Wallets[3]);
        using var unsigned = await Http.PostAsync("/api/leases", Json(Lease + "}"));
        using var forged = await Http.SendAsync(SignedRequests.Create(HttpMethod.Post, "/api/leases", Lease + "}", signer.PrivateKey, claimed.Address));
        using var noSignature = SignedRequests.Create(HttpMethod.Post, "/api/leases", Lease + "}", signer.PrivateKey);
        noSignature.Headers.Remove(RequestSigner.SignatureHeader);
        using var unsignedButClaimed = await Http.SendAsync(noSignature);
        using var notAnAddress = SignedRequests.Create(HttpMethod.Post, "/api/leases", Lease + "}", signer.PrivateKey, claimedTenant: "0x1234");
        using var badTenant = await Http.SendAsync(notAnAddress);

        var problem = await AssertProblemAsync(unsigned, HttpStatusCode.Unauthorized, field: null, "TenantSignatureRequired");
        Assert.False(problem.TryGetProperty("field", out _));
        Assert.StartsWith("This request acts for a tenant", problem.GetProperty("detail").GetString());
        await AssertProblemAsync(forged, HttpStatusCode.Unauthorized, RequestSigner.SignatureHeader, "BadSignature");
        await AssertProblemAsync(unsignedButClaimed, HttpStatusCode.Unauthorized, RequestSigner.SignatureHeader, "TenantSignatureRequired");
        await AssertProblemAsync(badTenant, HttpStatusCode.Unauthorized, RequestSigner.TenantHeader, "MalformedAddress");
    }

    [Theory]
    [InlineData("PUT", "/api/pools/neuron-cloud/trn2-use1")]
    [InlineData("POST", "/api/pools/neuron-cloud/trn2-use1/slots/0/drain")]
    public async Task An_unsigned_provider_request_is_told_to_sign_with_the_pools_payout_key(string method, string path)
    {
        using var unsigned = await Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = Json("{}") });

        var problem = await AssertProblemAsync(unsigned, HttpStatusCode.Unauthorized, field: null, "TenantSignatureRequired");
        Assert.StartsWith("This request acts for a provider: sign it with the pool's payout key", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_tenant_whose_wallet_and_escrow_balance_do_not_pay_the_deposit_gets_402_and_nothing_is_reserved()
    {
        var problem = await AssertRefusedAndNothingReservedAsync(Lease + "}", "tenant", "InsufficientFunds", HttpStatusCode.PaymentRequired, market.BrokeTenant);

        Assert.StartsWith("The tenant holds 0.000000 credits in its wallet and escrow balance together;", problem.GetProperty("detail").GetString());
        Assert.Contains("a deposit of", problem.GetProperty("detail").GetString());
    }

    /// <summary>
    /// Sends a lease request signed by <paramref name="signer"/> (<see cref="Tenant"/> unless named) and checks the refusal,
    /// and that no slot or lease came of it.
    /// </summary>
    private async Task<JsonElement> AssertRefusedAndNothingReservedAsync(string body, string field, string reason,
        HttpStatusCode status = HttpStatusCode.BadRequest, TenantWallet? signer = null)
    {
        signer ??= Tenant;
        var (free, leases) = (await FreeSlotsAsync(), (await market.Api.ListLeasesAsync(signer.PrivateKey, default)).Count);

        using var response = await Http.SendAsync(SignedRequests.Create(HttpMethod.Post, "/api/leases", body, signer.PrivateKey));

        var problem = await AssertProblemAsync(response, status, field, reason);
        Assert.Equal(free, await FreeSlotsAsync());
        Assert.Equal(leases, (await market.Api.ListLeasesAsync(signer.PrivateKey, default)).Count);
        return problem;
    }

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? field, string reason)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.True(problem.TryGetProperty("reason", out var said), text);
        Assert.Equal(reason, said.GetString());
        if (field is not null) Assert.Equal(field, problem.TryGetProperty("field", out var named) ? named.GetString() : null);
        return problem;
    }

    private async Task<int> FreeSlotsAsync() => (await market.Api.GetOffersAsync(null, null, default)).Sum(o => o.AvailableSlots);

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
