using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Orders;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>Standing orders through occ: place, see it rest with its reason, cancel; nobody else can.</summary>
[Collection(MarketCollection.Name)]
public sealed class OrderTests(MarketFixture market)
{
    [Fact]
    public async Task An_order_below_the_market_rests_with_its_reason_and_only_its_tenant_cancels_it()
    {
        var (tenant, stranger) = (market.Wallets[0], market.Wallets[1]);

        var placed = await market.OccAsync("order", "place", "--kind", "h100", "--hours", "1", "--max-price", "0.50", "--tenant", tenant.Name, "--json");
        Assert.True(placed.ExitCode == 0, placed.ToString());
        var order = placed.Json.Deserialize<StandingOrder>(ApiJson.Options)!;
        Assert.Equal((OrderStatus.Open, "AboveMaxPrice"), (order.Status, order.Reason));

        var listed = await market.OccAsync("order", "list", "--tenant", tenant.Name, "--json");
        Assert.Contains(listed.Json.Deserialize<List<StandingOrder>>(ApiJson.Options)!, o => o.Id == order.Id);

        var refused = await market.OccAsync("order", "cancel", order.Id, "--tenant", stranger.Name);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("NotYourOrder", refused.Error);

        var cancelled = await market.OccAsync("order", "cancel", order.Id, "--tenant", tenant.Name, "--json");
        Assert.True(cancelled.ExitCode == 0, cancelled.ToString());
        Assert.Equal(OrderStatus.Cancelled, cancelled.Json.Deserialize<StandingOrder>(ApiJson.Options)!.Status);
    }

    [Fact]
    public async Task The_order_list_says_to_fund_a_filled_orders_lease_only_while_it_waits_for_its_funding()
    {
        var tenant = market.Wallets[3];
        var placed = await market.OccAsync("order", "place", "--kind", "inferentia2", "--hours", "1", "--valid-for", "5", "--tenant", tenant.Name, "--json");
        Assert.True(placed.ExitCode == 0, placed.ToString());
        var orderId = placed.Json.Deserialize<StandingOrder>(ApiJson.Options)!.Id;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        StandingOrder filled;
        while ((filled = (await market.Api.ListOrdersAsync(tenant.PrivateKey, default)).Single(o => o.Id == orderId)).LeaseId is null && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        var lease = Abstractions.Leases.LeaseIds.Format(filled.LeaseId!.Value);

        var waiting = await market.OccAsync("order", "list", "--tenant", tenant.Name);
        Assert.Contains($"./occ lease fund {lease} --tenant {tenant.Name}", waiting.Output);
        // Whole on its line, however wide the table: it is copied from there.
        Assert.Contains(lease, waiting.Output.Split('\n').First(line => line.Contains(orderId, StringComparison.Ordinal)));

        Assert.Equal(0, (await market.OccAsync("lease", "end", lease, "--tenant", tenant.Name)).ExitCode);
        var cancelled = await market.OccAsync("order", "list", "--tenant", tenant.Name);
        Assert.True(cancelled.ExitCode == 0, cancelled.ToString());
        Assert.DoesNotContain($"lease fund {lease}", cancelled.Output);
    }

    [Fact]
    public async Task A_malformed_order_id_is_refused_naming_the_field()
    {
        var refused = await market.OccAsync("order", "cancel", "nonsense", "--tenant", market.Wallets[0].Name);

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("(field: id)", refused.Error);
    }
}
