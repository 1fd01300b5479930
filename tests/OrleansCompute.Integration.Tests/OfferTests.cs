using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>Comparing accelerators: offers across vendors, sorted by what the tenant cares about.</summary>
[Collection(MarketCollection.Name)]
public sealed class OfferTests(MarketFixture market)
{
    [Theory]
    [InlineData("price")]
    [InlineData("cost-per-token")]
    [InlineData("energy")]
    public async Task Offers_list_every_vendor_sorted_as_asked(string sort)
    {
        var listed = await market.OccAsync("offers", "--sort", sort, "--json");

        Assert.True(listed.ExitCode == 0, listed.ToString());
        var offers = listed.Json.Deserialize<List<Offer>>(ApiJson.Options)!;
        Assert.Equal(["h100", "h200", "inferentia2", "mi300x", "trainium2"], offers.Select(o => o.Kind).Distinct().Order());
        Func<Offer, decimal> key = sort switch
        {
            "cost-per-token" => o => o.PricePerMillionTokens.Units,
            "energy" => o => o.EnergyWhPerMillionTokens,
            _ => o => o.PricePerSlotHour.Units,
        };
        Assert.Equal(offers.Select(key).Order(), offers.Select(key));
    }

    [Fact]
    public async Task An_unknown_sort_or_kind_is_refused_naming_the_field()
    {
        var badSort = await market.OccAsync("offers", "--sort", "vibes");
        var badKind = await market.OccAsync("offers", "--kind", "tpu-v9");

        Assert.Equal(1, badSort.ExitCode);
        Assert.Contains("(field: sort)", badSort.Error);
        Assert.Equal(1, badKind.ExitCode);
        Assert.Contains("(field: kind)", badKind.Error);
    }
}
