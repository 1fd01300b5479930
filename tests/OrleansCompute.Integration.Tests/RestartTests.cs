using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Orders;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>The host stops and starts again on its SQLite file in the middle of leases: nothing is lost, deadlines still fire.</summary>
[Collection(MarketCollection.Name)]
public sealed class RestartTests(MarketFixture market)
{
    [Fact]
    public async Task A_host_restart_keeps_every_lease_order_and_pending_expiry_and_the_lease_still_settles()
    {
        var tenant = market.Wallets[3];
        var created = await market.OccAsync("lease", "create", "--kind", "h100", "--hours", "2", "--tenant", tenant.Name, "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var active = created.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        var order = await market.Api.PlaceOrderAsync(
            new PlaceOrderRequest(new LeaseRequest("h200", 1, 1, MaxPricePerSlotHour: Credits.FromCredits(0.10m)), 30), tenant.PrivateKey, default);
        // A provider grew a demo pool, and a lease holds a slot the demo's definition does not have: the restart's seeding
        // must neither take the growth back nor fail on the slot in use.
        var grown = await market.OccAsync("provider", "pool", "neuron-cloud/trn2-usw2", "--slots", "6");
        Assert.True(grown.ExitCode == 0, grown.ToString());
        var wide = await market.OccAsync("lease", "create", "--kind", "trainium2", "--region", "us-west-2", "--slots", "5", "--hours", "1", "--tenant", tenant.Name, "--json");
        Assert.True(wide.ExitCode == 0, wide.ToString());
        var wideLease = wide.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        // The reservations last, just before the restart, and looked at first after it: they wait for their escrows for the
        // funding window only (20 s), which the leases funded on chain above would eat into on a slow machine.
        var unfunded = await market.Api.CreateLeaseAsync(new LeaseRequest("inferentia2", 1, 1), tenant.PrivateKey, default);
        var block = await market.Api.CreateLeaseAsync(new LeaseRequest("trainium2", 1, 1, Start: DateTimeOffset.UtcNow.AddHours(6)), tenant.PrivateKey, default);
        var watched = (await market.Api.GetChainAsync(default)).GetProperty("watcherBlock").GetInt64();

        await market.RestartHostAsync();

        var api = market.Api;
        Assert.Equal(LeaseStatus.Reserved, (await api.GetLeaseAsync(LeaseIds.Format(block.Id), default)).Status);
        Assert.Contains(block.Id, (await api.ListLeasesAsync(tenant.PrivateKey, default)).Select(l => l.Id));
        // The chain watcher goes on from where it stopped, not from the escrow's deployment.
        var chain = await Eventually.WaitForAsync(() => api.GetChainAsync(default),
            c => c.GetProperty("watcherBlock").GetInt64() >= watched);
        Assert.InRange(chain.GetProperty("watcherResumedFromBlock").GetInt64(), watched + 1, long.MaxValue);
        Assert.True(watched > market.Devnet.DeployBlock);
        var activeAfter = await api.GetLeaseAsync(LeaseIds.Format(active.Id), default);
        Assert.Equal((LeaseStatus.Active, active.FundingTransaction), (activeAfter.Status, activeAfter.FundingTransaction));
        Assert.Equal(active.SlotKeys, activeAfter.SlotKeys);
        Assert.Equal(activeAfter.Id, (await market.OccAsync("inspect", "slot", active.SlotKeys.Single(), "--json")).Json.GetProperty("leaseId").GetGuid());
        Assert.Contains(await api.ListOrdersAsync(tenant.PrivateKey, default), o => o.Id == order.Id && o.Status == OrderStatus.Open);
        Assert.Equal(6, (await market.OccAsync("inspect", "pool", "neuron-cloud/trn2-usw2", "--json")).Json.GetProperty("definition").GetProperty("slotCount").GetInt32());
        Assert.Equal(LeaseStatus.Active, (await api.GetLeaseAsync(LeaseIds.Format(wideLease.Id), default)).Status);

        // The unfunded reservation's deadline was set before the restart; it still releases the slot.
        var expired = await Eventually.WaitForAsync(() => api.GetLeaseAsync(LeaseIds.Format(unfunded.Id), default), l => l.Status != LeaseStatus.Reserved,
            MarketFixture.FundingWindow + TimeSpan.FromSeconds(30));
        Assert.Equal((LeaseStatus.Expired, LeaseReasons.ReservationNotFunded), (expired.Status, expired.History[^1].Reason));

        var ended = await market.OccAsync("lease", "end", LeaseIds.Format(active.Id), "--tenant", tenant.Name, "--json");
        Assert.True(ended.ExitCode == 0, ended.ToString());
        Assert.Equal(LeaseStatus.Settled, ended.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!.Status);
        var wideEnded = await market.OccAsync("lease", "end", LeaseIds.Format(wideLease.Id), "--tenant", tenant.Name);
        Assert.True(wideEnded.ExitCode == 0, wideEnded.ToString());
        await market.AssertConservedAsync();

        await market.OccAsync("order", "cancel", order.Id, "--tenant", tenant.Name);
        // The block, reserved just after the unfunded lease, lapses just after it.
        var blockLapsed = await Eventually.WaitForAsync(() => api.GetLeaseAsync(LeaseIds.Format(block.Id), default), l => l.Status != LeaseStatus.Reserved,
            MarketFixture.FundingWindow + TimeSpan.FromSeconds(30));
        Assert.Equal((LeaseStatus.Expired, LeaseReasons.ReservationNotFunded), (blockLapsed.Status, blockLapsed.History[^1].Reason));
    }
}
