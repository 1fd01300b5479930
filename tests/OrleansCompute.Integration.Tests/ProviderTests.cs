using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Cli.Commands;
using OrleansCompute.Cli.Api;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>Provider operations over HTTP, signed with the pool's payout key; nobody else may change a pool.</summary>
[Collection(MarketCollection.Name)]
public sealed class ProviderTests(MarketFixture market)
{
    private const string Pool = "helios/mi300x-usw2";

    [Fact]
    public async Task Only_the_pools_provider_drains_its_slot_and_a_drained_slot_is_offered_no_more()
    {
        var before = await market.FreeSlotsAsync(Pool);

        var stranger = await Assert.ThrowsAsync<ApiException>(() => market.Api.DrainSlotAsync(Pool, 7, 0, market.Wallets[0].PrivateKey, default));
        Assert.Equal((403, "NotYourPool"), (stranger.Status, stranger.Reason));
        Assert.Equal(before, await market.FreeSlotsAsync(Pool));

        var drained = await market.OccAsync("provider", "drain", $"{Pool}/7", "--notice", "0", "--json");

        Assert.True(drained.ExitCode == 0, drained.ToString());
        Assert.Equal(before - 1, await market.FreeSlotsAsync(Pool));
        var pool = (await market.OccAsync("inspect", "pool", Pool)).Json.Deserialize<PoolSnapshot>(ApiJson.Options)!;
        Assert.Contains(7, pool.Draining);
    }

    [Fact]
    public async Task A_provider_adds_a_pool_grows_and_shrinks_it_and_the_market_offers_what_it_has()
    {
        const string spare = "helios/mi300x-spare";
        var helios = DevAccounts.Providers[2].Address;

        // A provider's further pool pays where its first does; 9.00 keeps it above every demo offer.
        var created = await market.OccAsync("provider", "pool", spare, "--kind", "mi300x", "--region", "us-west-2", "--slots", "2", "--floor-price", "9.00", "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var pool = created.Json.Deserialize<PoolSnapshot>(ApiJson.Options)!;
        Assert.Equal(helios, pool.Definition!.PayoutAddress, ignoreCase: true);
        Assert.Equal(("mi300x", 2, Credits.FromCredits(9.00m)), await OfferOfAsync(spare));

        var grown = await market.OccAsync("provider", "pool", spare, "--slots", "3");
        Assert.True(grown.ExitCode == 0, grown.ToString());
        Assert.Equal(("mi300x", 3, Credits.FromCredits(9.00m)), await OfferOfAsync(spare));

        var shrunk = await market.OccAsync("provider", "pool", spare, "--slots", "1", "--floor-price", "9.50");
        Assert.True(shrunk.ExitCode == 0, shrunk.ToString());
        Assert.Equal(("mi300x", 1, Credits.FromCredits(9.50m)), await OfferOfAsync(spare));

        var otherKind = await market.OccAsync("provider", "pool", spare, "--kind", "h100");
        Assert.Equal(1, otherKind.ExitCode);
        Assert.Contains("(field: kind)", otherKind.Error);
        Assert.Equal(("mi300x", 1, Credits.FromCredits(9.50m)), await OfferOfAsync(spare));
    }

    [Fact]
    public async Task A_new_pool_without_its_terms_is_refused_naming_what_is_missing_and_nothing_is_created()
    {
        var partial = await market.OccAsync("provider", "pool", "newco/h100-x", "--kind", "h100");
        var unpaid = await market.OccAsync("provider", "pool", "newco/h100-x", "--kind", "h100", "--region", "eu-west-1", "--slots", "1", "--floor-price", "3");
        var free = await market.OccAsync("provider", "pool", "newco/h100-x", "--kind", "h100", "--region", "eu-west-1", "--slots", "1", "--floor-price", "0", "--payout", "provider1");

        Assert.Equal(1, partial.ExitCode);
        Assert.Contains("needs --region, --slots, --floor-price", partial.Error);
        Assert.Equal(1, unpaid.ExitCode);
        Assert.Contains("--payout", unpaid.Error);
        Assert.Equal(1, free.ExitCode);
        Assert.Contains("--floor-price", free.Error);
        Assert.Equal(1, (await market.OccAsync("inspect", "pool", "newco/h100-x")).ExitCode);
    }

    [Fact]
    public async Task A_provider_sees_what_settled_leases_paid_it_and_withdraws_it_to_its_wallet()
    {
        var helios = DevAccounts.Providers[2].Address;
        var tenant = market.Wallets[2];
        var created = await market.OccAsync("lease", "create", "--kind", "mi300x", "--hours", "1", "--tenant", tenant.Name, "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var ended = await market.OccAsync("lease", "end", created.Json.GetProperty("lease").GetProperty("id").GetString()!, "--tenant", tenant.Name);
        Assert.True(ended.ExitCode == 0, ended.ToString());
        var owed = await market.Escrow.GetProviderBalanceAsync(helios);
        var walletBefore = await market.Escrow.Credit.BalanceOfAsync(helios);
        Assert.True(owed > Credits.Zero);

        var balance = await market.OccAsync("provider", "balance", "--provider", "helios", "--json");
        Assert.True(balance.ExitCode == 0, balance.ToString());
        var shown = balance.Json.Deserialize<List<ProviderBalance>>(ApiJson.Options)!.Single();
        Assert.Equal(helios, shown.Address, ignoreCase: true);
        Assert.Equal((owed, walletBefore), (shown.EscrowBalance, shown.Wallet));

        var withdrawn = await market.OccAsync("provider", "withdraw", "--provider", "helios", "--json");
        Assert.True(withdrawn.ExitCode == 0, withdrawn.ToString());
        Assert.Equal(owed, withdrawn.Json.GetProperty("withdrawn").Deserialize<Credits>(ApiJson.Options));
        Assert.Equal(Credits.Zero, await market.Escrow.GetProviderBalanceAsync(helios));
        Assert.Equal(walletBefore + owed, await market.Escrow.Credit.BalanceOfAsync(helios));
        await market.AssertConservedAsync();

        var again = await market.OccAsync("provider", "withdraw", "--provider", "provider3");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("owes provider3", again.Error);
    }

    [Fact]
    public async Task A_lease_the_market_ended_by_a_drain_tells_its_tenant_to_sign_and_lease_end_settles_it_and_refunds_the_rest()
    {
        // A one-slot pool in a region of its own, above every demo price: no other lease lands in it, and this lease has
        // nowhere to move when its slot is taken back.
        const string lone = "drainco/h100-lone";
        var tenant = market.Wallets[2];
        var pool = await market.OccAsync("provider", "pool", lone, "--kind", "h100", "--region", "ap-south-1", "--slots", "1", "--floor-price", "9.00", "--payout", "provider1");
        Assert.True(pool.ExitCode == 0, pool.ToString());
        var created = await market.OccAsync("lease", "create", "--kind", "h100", "--hours", "1", "--region", "ap-south-1", "--tenant", tenant.Name, "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var leaseId = LeaseIds.Format(created.Json.GetProperty("lease").GetProperty("id").GetGuid());
        var tenantBefore = await market.TenantHoldsAsync(tenant.Address);

        Assert.Equal(0, (await market.OccAsync("provider", "drain", $"{lone}/0", "--notice", "0")).ExitCode);
        var ended = await Eventually.WaitForAsync(() => market.Api.GetLeaseAsync(leaseId, default), l => l.Status == LeaseStatus.Ended, TimeSpan.FromSeconds(60));
        Assert.Equal(LeaseReasons.ProviderReclaimed, ended.History[^1].Reason);
        Assert.NotNull(ended.VoucherToSign);
        Assert.Null(ended.FinalVoucher);

        var shown = await market.OccAsync("lease", "show", leaseId);
        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Contains($"`occ lease end {leaseId} --tenant {tenant.Name}` signs the final voucher", shown.Output);

        var settled = await market.OccAsync("lease", "end", leaseId, "--tenant", tenant.Name, "--json");
        Assert.True(settled.ExitCode == 0, settled.ToString());
        var lease = settled.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal(LeaseStatus.Settled, lease.Status);
        Assert.Equal(ended.AmountOwed, lease.Paid);
        Assert.Equal(lease.Deposit - lease.Paid, lease.Refunded);
        Assert.True(lease.Refunded > Credits.Zero);
        Assert.Equal(tenantBefore + lease.Refunded, await market.TenantHoldsAsync(tenant.Address));
        await market.AssertConservedAsync();
    }

    [Fact]
    public async Task Draining_a_slot_of_a_pool_that_does_not_exist_carries_the_hosts_reason_as_inspect_does()
    {
        var drained = await market.OccAsync("provider", "drain", "gpu-hub/nope/0", "--json");
        var inspected = await market.OccAsync("inspect", "pool", "gpu-hub/nope", "--json");

        Assert.Equal(1, drained.ExitCode);
        var error = JsonDocument.Parse(drained.Error).RootElement;
        Assert.Equal((404, "UnknownPool"), (error.GetProperty("status").GetInt32(), error.GetProperty("reason").GetString()));
        Assert.Equal(inspected.Error, drained.Error);
        Assert.StartsWith("error: UnknownPool", (await market.OccAsync("provider", "drain", "gpu-hub/nope/0")).Error);
    }

    [Fact]
    public async Task Draining_a_slot_the_pool_does_not_have_is_refused()
    {
        var refused = await market.OccAsync("provider", "drain", $"{Pool}/99");

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("(field: index)", refused.Error);
    }

    [Theory]
    [InlineData("payoutAddress")]
    [InlineData("region")]
    public async Task A_pools_owner_cannot_move_its_pool_or_its_payouts_and_nothing_changes(string field)
    {
        var helios = DevAccounts.Providers[2];
        var before = await DefinitionOfAsync(Pool);
        var changed = field == "payoutAddress"
            ? before with { PayoutAddress = market.Wallets[0].Address, SlotCount = before.SlotCount + 1 }
            : before with { Region = "eu-west-1", SlotCount = before.SlotCount + 1 };

        var refused = await Assert.ThrowsAsync<ApiException>(() => market.Api.DefinePoolAsync(changed, helios.PrivateKey, default));
        var moved = await market.OccAsync("provider", "pool", Pool, "--region", "eu-west-1");

        Assert.Equal((400, field), (refused.Status, refused.Field));
        Assert.Equal(1, moved.ExitCode);
        Assert.Contains("(field: region)", moved.Error);
        Assert.Equal(before, await DefinitionOfAsync(Pool));
    }

    [Fact]
    public async Task A_new_pool_under_another_providers_id_is_refused_with_403_and_offered_nowhere()
    {
        const string fake = "gpu-hub/h100-fake";
        var impostor = market.Wallets[0];
        var pool = new PoolDefinition("gpu-hub", "h100-fake", "h100", "eu-west-1", 4, Credits.FromCredits(0.50m), impostor.Address);

        var refused = await Assert.ThrowsAsync<ApiException>(() => market.Api.DefinePoolAsync(pool, impostor.PrivateKey, default));
        // Another provider's key, through occ: its own wallet names the payout address.
        var otherProvider = await market.OccAsync("provider", "pool", fake, "--kind", "h100", "--region", "eu-west-1", "--slots", "1", "--floor-price", "0.50", "--payout", "provider1");

        Assert.Equal((403, "NotYourProvider", "providerId"), (refused.Status, refused.Reason, refused.Field));
        Assert.Equal(1, otherProvider.ExitCode);
        Assert.Contains("NotYourProvider", otherProvider.Error);
        Assert.Equal(1, (await market.OccAsync("inspect", "pool", fake)).ExitCode);
        Assert.DoesNotContain(await market.Api.GetOffersAsync(null, null, default), o => o.PoolKey == fake);
        var provider = await market.OccAsync("inspect", "provider", "gpu-hub", "--json");
        Assert.True(provider.ExitCode == 0, provider.ToString());
        Assert.Equal(DevAccounts.Providers[1].Address, provider.Json.GetProperty("payoutAddress").GetString(), ignoreCase: true);
    }

    [Fact]
    public async Task A_drain_notice_out_of_range_is_refused_naming_the_field_the_body_has()
    {
        using var http = new HttpClient { BaseAddress = new Uri(market.Devnet.ApiUrl) };
        var before = await market.FreeSlotsAsync(Pool);

        using var response = await http.SendAsync(SignedRequests.Create(HttpMethod.Post, $"/api/pools/{Pool}/slots/6/drain",
            """{"noticeMinutes":-5}""", DevAccounts.Providers[2].PrivateKey));

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(("noticeMinutes", "OutOfRange"), (problem.GetProperty("field").GetString(), problem.GetProperty("reason").GetString()));
        Assert.Equal(before, await market.FreeSlotsAsync(Pool));
    }

    private async Task<PoolDefinition> DefinitionOfAsync(string poolKey) =>
        (await market.Api.InspectAsync("pool", poolKey, default)).GetProperty("definition").Deserialize<PoolDefinition>(ApiJson.Options)!;

    /// <summary>What the market offers of a pool: its kind and size, and the floor its provider set.</summary>
    private async Task<(string Kind, int Slots, Credits Floor)> OfferOfAsync(string poolKey)
    {
        var offer = (await market.Api.GetOffersAsync(null, null, default)).Single(o => o.PoolKey == poolKey);
        var floor = (await market.OccAsync("inspect", "pool", poolKey)).Json.GetProperty("definition").GetProperty("floorPricePerSlotHour").Deserialize<Credits>(ApiJson.Options);
        return (offer.Kind, offer.TotalSlots, floor);
    }
}
