using System.Net;
using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Host.Gateway;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// A token-billed lease whose escrow runs low: the gateway answers 402 <c>escrow_low</c> instead of ending the lease, the
/// tenant tops the escrow up on chain, and the lease goes on as soon as the host has seen the top-up.
/// </summary>
[Collection(EscrowLowCollection.Name)]
public sealed class EscrowLowTests(EscrowLowFixture market)
{
    // About 30,000 tokens: an escrow of one Trainium2 hour holds 8.64 million, so three of these owe its last 1%.
    private static readonly string LongPrompt = string.Concat(Enumerable.Repeat(" hello", 30_000));

    [Fact]
    public async Task A_token_billed_lease_near_the_end_of_its_escrow_gets_402_escrow_low_is_topped_up_on_chain_and_goes_on()
    {
        var tenant = market.Wallets[0];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant, "--bill-by", "tokens");
        var request = new { model = SimulatedAccelerator.Model, prompt = LongPrompt, max_tokens = 16 };

        var low = await market.PostUntilPaymentRequiredAsync(apiKey, "/v1/completions", request);
        Assert.NotNull(low);
        Assert.Equal("escrow_low", low.Code);
        Assert.Contains("top it up (occ lease top-up)", low.Message);
        var owing = await market.Api.GetLeaseAsync(LeaseIds.Format(lease.Id), default);
        Assert.Equal(LeaseStatus.Active, owing.Status);
        Assert.True(owing.AmountOwed.Units * 100 >= owing.Escrowed.Units, $"owes {owing.AmountOwed} of {owing.Escrowed}");
        // Refused while low, and nothing metered for it: a short request too, since it is the escrow, not the request, that is short.
        var small = await market.PostInferenceAsync(apiKey, "/v1/completions", new { model = SimulatedAccelerator.Model, prompt = "Hi", max_tokens = 4 });
        Assert.Equal((HttpStatusCode.PaymentRequired, "escrow_low"), (small.Status, small.Code));
        Assert.Equal(owing.Usage, (await market.Api.GetLeaseAsync(LeaseIds.Format(lease.Id), default)).Usage);

        // The tenant's wallet tops the escrow up on chain; occ returns once the host has seen the LeaseToppedUp event.
        var topUp = await market.OccAsync("lease", "top-up", LeaseIds.Format(lease.Id), "5", "--tenant", tenant.Name, "--json");
        Assert.True(topUp.ExitCode == 0, topUp.ToString());
        var toppedUp = topUp.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal(lease.Deposit + Credits.FromCredits(5m), toppedUp.Escrowed);
        Assert.Equal(lease.Deposit + Credits.FromCredits(5m), (await market.OnChainAsync(lease.Id))!.Deposit);

        var resumed = await market.PostInferenceAsync(apiKey, "/v1/completions", request);
        Assert.Equal(HttpStatusCode.OK, resumed.Status);
        var metered = await market.Api.GetLeaseAsync(LeaseIds.Format(lease.Id), default);
        Assert.Equal(owing.Usage.Requests + 1, metered.Usage.Requests);

        // Ended: the chain pays the provider what was metered and refunds the rest of the deposit and the top-up.
        var ended = await market.OccAsync("lease", "end", LeaseIds.Format(lease.Id), "--tenant", tenant.Name, "--json");
        Assert.True(ended.ExitCode == 0, ended.ToString());
        var settled = ended.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal(LeaseStatus.Settled, settled.Status);
        Assert.Equal(settled.AmountOwed, (await market.OnChainAsync(lease.Id))!.Paid);
        Assert.Equal(toppedUp.Escrowed - settled.AmountOwed, settled.Refunded);
        await market.AssertConservedAsync();
    }
}

/// <summary>
/// A market whose token-billed leases stop at 402 <c>escrow_low</c> once they owe 1% of their escrow
/// (<c>Market:EscrowLowPercent=99</c>), so a test reaches a nearly used-up escrow in a few requests instead of an hour of
/// tokens; its simulated accelerator answers without its simulated model time (seconds of prefill for such prompts).
/// </summary>
public sealed class EscrowLowFixture : MarketFixture
{
    protected override IEnumerable<string> ExtraHostArguments => ["--Market:EscrowLowPercent=99", "--Gateway:SimulatedPacing=false"];
}

[CollectionDefinition(Name)]
public sealed class EscrowLowCollection : ICollectionFixture<EscrowLowFixture>
{
    public const string Name = "market whose escrows run low early";
}
