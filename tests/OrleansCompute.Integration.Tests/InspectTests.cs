using System.Net;
using System.Text.Json;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// Naming what the market does not have: a grain exists for any key, so inspecting or listing by a key the market never
/// defined must be refused, not answered with made-up state or an empty table that looks like a market with no room.
/// </summary>
[Collection(MarketCollection.Name)]
public sealed class InspectTests(MarketFixture market)
{
    private HttpClient Http => new() { BaseAddress = new Uri(market.Devnet.ApiUrl) };

    [Theory]
    [InlineData("pool/nope/nope", HttpStatusCode.NotFound, "UnknownPool")]
    [InlineData("slot/nope/nope/1", HttpStatusCode.NotFound, "UnknownPool")]
    [InlineData("slot/neuron-cloud/trn2-use1/999", HttpStatusCode.NotFound, "UnknownSlot")]
    [InlineData("slot/neuron-cloud/trn2-use1/-1", HttpStatusCode.NotFound, "UnknownSlot")]
    [InlineData("market/nope", HttpStatusCode.BadRequest, "UnknownKind")]
    public async Task Inspecting_what_the_market_does_not_have_is_a_problem_naming_it(string path, HttpStatusCode status, string reason)
    {
        using var response = await Http.GetAsync($"/api/inspect/{path}");

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(reason, problem.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task What_the_market_has_is_still_shown()
    {
        var pool = await market.OccAsync("inspect", "pool", "neuron-cloud/trn2-use1", "--json");
        var slot = await market.OccAsync("inspect", "slot", "neuron-cloud/trn2-use1/15", "--json");
        var kind = await market.OccAsync("inspect", "market", "trainium2", "--json");

        Assert.True(pool.ExitCode == 0, pool.Error);
        Assert.Equal(16, pool.Json.GetProperty("definition").GetProperty("slotCount").GetInt32());
        Assert.True(slot.ExitCode == 0, slot.Error);
        Assert.True(kind.ExitCode == 0, kind.Error);
    }

    [Fact]
    public async Task Occ_says_which_pool_is_unknown_and_exits_1()
    {
        var inspected = await market.OccAsync("inspect", "pool", "nope/nope");
        var drained = await market.OccAsync("provider", "drain", "nope/nope/1");

        Assert.Equal(1, inspected.ExitCode);
        Assert.Contains("No pool 'nope/nope'", inspected.Error);
        Assert.Equal(1, drained.ExitCode);
        Assert.Contains("No pool 'nope/nope'", drained.Error);
    }

    [Fact]
    public async Task Inspect_names_active_among_the_kinds_and_refuses_a_key_for_it()
    {
        var mistyped = await market.OccAsync("inspect", "leas", "0123");
        var keyed = await market.OccAsync("inspect", "active", "extra");
        var active = await market.OccAsync("inspect", "active");

        Assert.Equal(1, mistyped.ExitCode);
        Assert.Contains("kinds: slot, pool, market, orders, lease, account, settlement, provider, or active", mistyped.Error);
        Assert.Equal(1, keyed.ExitCode);
        Assert.Contains("inspect active takes no key", keyed.Error);
        Assert.True(active.ExitCode == 0, active.ToString());
    }

    [Fact]
    public async Task Offers_in_a_region_no_pool_is_in_or_misspelt_are_refused_naming_the_regions_there_are()
    {
        var refused = await market.OccAsync("offers", "--region", "mars");
        // A known region without the kind asked for is a true empty answer: the devnet has no H100 in us-west-2.
        var none = await market.OccAsync("offers", "--region", "us-west-2", "--kind", "h100", "--json");
        // Regions are named as lease requests name them, in lowercase: another spelling is refused, not an empty list.
        var upper = await market.OccAsync("offers", "--region", "US-EAST-1");

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("(field: region)", refused.Error);
        Assert.Contains("us-east-1", refused.Error);
        Assert.True(none.ExitCode == 0, none.Error);
        Assert.Equal(0, none.Json.GetArrayLength());
        Assert.Equal(1, upper.ExitCode);
        Assert.Contains("not a region name", upper.Error);
    }
}
