using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Market;
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
    public async Task Draining_a_slot_the_pool_does_not_have_is_refused()
    {
        var refused = await market.OccAsync("provider", "drain", $"{Pool}/99");

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("(field: index)", refused.Error);
    }
}
