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

    [Fact]
    public async Task A_lease_created_with_a_quote_pays_the_quoted_price()
    {
        var tenant = market.Wallets[2];
        var quoted = await market.OccAsync("quote", "--kind", "h200", "--hours", "1", "--json");
        Assert.True(quoted.ExitCode == 0, quoted.ToString());
        var quote = quoted.Json.Deserialize<Quote>(ApiJson.Options)!;

        var created = await market.OccAsync("lease", "create", "--kind", "h200", "--hours", "1", "--quote", quote.Id, "--tenant", tenant.Name, "--json");

        Assert.True(created.ExitCode == 0, created.ToString());
        var lease = created.Json.GetProperty("lease").Deserialize<Abstractions.Leases.LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal(quote.PoolKey, lease.PoolKey);
        Assert.Equal(quote.PricePerSlotHour, lease.PricePerSlotHour);
        Assert.Equal(0, (await market.OccAsync("lease", "end", Abstractions.Leases.LeaseIds.Format(lease.Id), "--tenant", tenant.Name)).ExitCode);

        var reused = await market.OccAsync("lease", "create", "--kind", "h200", "--hours", "1", "--quote", quote.Id, "--tenant", tenant.Name);
        Assert.Equal(1, reused.ExitCode);
        Assert.Contains("(field: quoteId)", reused.Error);
    }

    [Fact]
    public async Task The_command_a_quote_for_a_later_window_suggests_leases_that_window_not_one_from_now()
    {
        var tenant = market.Wallets[2];
        var quoted = await market.OccAsync("quote", "--kind", "h200", "--hours", "1", "--start", "+2d");
        Assert.True(quoted.ExitCode == 0, quoted.ToString());

        // Run as the user would copy it from the output.
        var suggested = quoted.Output.Split('\n').Select(line => line.Trim()).Single(line => line.StartsWith("./occ lease create", StringComparison.Ordinal));
        var created = await market.OccAsync([.. suggested.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1), "--tenant", tenant.Name, "--json"]);

        Assert.True(created.ExitCode == 0, created.ToString());
        var lease = created.Json.GetProperty("lease").Deserialize<Abstractions.Leases.LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal(Abstractions.Leases.LeaseStatus.Funded, lease.Status);
        Assert.InRange(lease.StartsAt!.Value, DateTimeOffset.UtcNow.AddDays(2).AddMinutes(-2), DateTimeOffset.UtcNow.AddDays(2));
        Assert.Equal(0, (await market.OccAsync("lease", "end", Abstractions.Leases.LeaseIds.Format(lease.Id), "--tenant", tenant.Name)).ExitCode);
    }
}
