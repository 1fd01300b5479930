using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// occ audit on settlement vouchers of leases whose escrow channel a later lease of the same tenant took: the channel's
/// word then holds the later lease, and what the earlier one was paid is only in its events. A market of its own (its own
/// Anvil and host), which the test restarts and whose chain clock it moves on.
/// </summary>
[Collection(ReusedChannelAuditCollection.Name)]
public sealed class ReusedChannelAuditTests(ReusedChannelAuditFixture market)
{
    [Fact]
    public async Task A_voucher_the_chain_paid_on_a_channel_a_later_lease_took_is_no_mismatch_while_its_queue_lags_and_one_it_never_paid_is_reported()
    {
        var tenant = market.Wallets[0];
        var signer = new VoucherSigner(market.Devnet.ChainId, market.Devnet.EscrowAddress);

        // Lease A settles on chain; its queue's item is Submitted, its lease Settled.
        var a = await CreateAsync("h100", tenant.Name);
        var providerA = a.GetProperty("providerAddress").GetString()!;
        var leaseA = a.GetProperty("id").GetGuid();
        // Another tenant's lease at another provider, for the unapplied voucher below: its queue must not wake A's.
        var c = await CreateAsync("trainium2", market.Wallets[1].Name);
        var providerC = c.GetProperty("providerAddress").GetString()!;
        var leaseC = c.GetProperty("id").GetGuid();
        Assert.NotEqual(AccountKeys.Normalize(providerA), AccountKeys.Normalize(providerC));

        var grains = market.HostServices.GetRequiredService<IGrainFactory>();
        var endedA = await grains.GetGrain<ILeaseGrain>(leaseA).EndAsync(tenant.Address);
        var queuedBy = DateTimeOffset.UtcNow;
        await grains.GetGrain<ILeaseGrain>(leaseA).SubmitFinalVoucherAsync(tenant.Address,
            signer.Sign(tenant.PrivateKey, leaseA, endedA.Channel ?? 0, endedA.AmountOwed, isFinal: true));
        await Eventually.WaitForAsync(async () => (await grains.GetGrain<ILeaseGrain>(leaseA).GetAsync())!.Status, s => s == LeaseStatus.Settled,
            TimeSpan.FromSeconds(10));
        var item = Assert.Single((await grains.GetGrain<ISettlementGrain>(AccountKeys.Normalize(providerA)).GetAsync()).Items, i => i.Voucher.LeaseId == leaseA);
        Assert.True(item.Status == SettlementItemStatus.Submitted,
            $"the queue confirmed lease A's voucher before the host stopped ({item.Status}): the test must stop it within {ReusedChannelAuditFixture.ConfirmTimeout / 4}");

        // The host stops before its queue's confirmation check: the item stays Submitted, as when the silo holding it dies.
        // Nothing wakes that queue again before the audit (its reminder is a minute away).
        await market.RestartHostAsync();

        // Lease B of the same tenant takes A's channel, now closed.
        var b = await CreateAsync("h100", tenant.Name);
        Assert.Equal(endedA.Channel, (uint?)b.GetProperty("channel").GetUInt32());

        // Lease C: its escrow's claim window ends by the chain's clock before its final voucher comes, which the escrow refuses
        // for good; anyone refunds the escrow, and a later escrow of its tenant takes its channel. The voucher was never paid.
        var rpc = new ChainRpc(market.Devnet.RpcUrl);
        var cheats = new AnvilCheats(rpc);
        await cheats.IncreaseTimeAsync(TimeSpan.FromHours(6));
        await cheats.MineAsync();
        grains = market.HostServices.GetRequiredService<IGrainFactory>();
        var owner = market.Wallets[1];
        var endedC = await grains.GetGrain<ILeaseGrain>(leaseC).EndAsync(owner.Address);
        Assert.True(endedC.AmountOwed > Credits.Zero, $"lease C owes {endedC.AmountOwed}");
        await grains.GetGrain<ILeaseGrain>(leaseC).SubmitFinalVoucherAsync(owner.Address,
            signer.Sign(owner.PrivateKey, leaseC, endedC.Channel ?? 0, endedC.AmountOwed, isFinal: true));
        var settlementC = grains.GetGrain<ISettlementGrain>(AccountKeys.Normalize(providerC));
        var refused = await Eventually.WaitForAsync(async () => (await settlementC.GetAsync()).Items.Single(i => i.Voucher.LeaseId == leaseC),
            i => i.Status == SettlementItemStatus.Rejected, TimeSpan.FromSeconds(10));
        Assert.Contains("ClaimWindowOver", refused.Error);
        using (var anyone = new TransactionSender(rpc, market.Wallets[2].PrivateKey, market.Devnet.ChainId))
            await market.Escrow.RefundAsync(anyone, leaseC, owner.Address, endedC.Channel ?? 0);
        // The market sees the escrow refunded (the watcher hands the lease its close).
        await Eventually.WaitForAsync(async () => (await grains.GetGrain<ILeaseGrain>(leaseC).GetAsync())!, l => l.Status.IsFinal() && l.Refunded > Credits.Zero,
            TimeSpan.FromSeconds(10));
        var leaseD = Guid.CreateVersion7();
        var expiryD = DateTimeOffset.FromUnixTimeSeconds((await rpc.GetLatestBlockTimeAsync()).AddHours(2).ToUnixTimeSeconds());
        using (var ownerSender = new TransactionSender(rpc, owner.PrivateKey, market.Devnet.ChainId))
        {
            var openedD = await market.Escrow.OpenLeaseAsync(ownerSender, leaseD, providerC, Credits.FromCredits(1m), expiryD);
            Assert.Equal(endedC.Channel ?? 0, openedD.Channel);
        }

        // A's item has waited past the time a voucher has to be confirmed.
        var due = queuedBy + ReusedChannelAuditFixture.ConfirmTimeout + TimeSpan.FromMilliseconds(500) - DateTimeOffset.UtcNow;
        if (due > TimeSpan.Zero) await Task.Delay(due);

        var audit = await market.OccAsync("audit", "--json");

        var mismatches = audit.Json.GetProperty("mismatches").EnumerateArray().ToList();
        var notes = audit.Json.GetProperty("notes").EnumerateArray().Select(n => n.GetString()!).ToList();
        string Row(System.Text.Json.JsonElement m) => string.Join(" | ", ((string[])["subject", "field", "market", "chain", "cause"]).Select(p => m.GetProperty(p).ToString()));
        // A: the chain paid it (its events say so); only its queue lags, which is a note.
        Assert.DoesNotContain(mismatches, m => m.GetProperty("subject").GetString() == LeaseIds.Format(leaseA));
        var lag = Assert.Single(notes, n => n.StartsWith(LeaseIds.Format(leaseA)));
        Assert.Contains($"final voucher for {endedA.AmountOwed} Submitted", lag);
        Assert.Contains("only the queue's confirmation is behind", lag);
        // B, on A's channel, agrees too, but for the claim window the test's move of the chain's clock ended.
        Assert.All(mismatches.Where(m => m.GetProperty("subject").GetString() == LeaseIds.Format(b.GetProperty("id").GetGuid())),
            m => Assert.Equal("claimWindow", m.GetProperty("field").GetString()));
        // C: the voucher the escrow refused, never paid, on a channel D took, is reported.
        var unpaid = Assert.Single(mismatches, m => m.GetProperty("subject").GetString() == LeaseIds.Format(leaseC) && m.GetProperty("field").GetString() == "settlement");
        Assert.StartsWith("paid 0.000000, closed", unpaid.GetProperty("chain").GetString());
        Assert.Contains("refused for good (ClaimWindowOver) and the chain has not paid it", unpaid.GetProperty("cause").GetString());
        // D, an escrow the market never reserved: refundable after its expiry plus the claim window, said exactly.
        var stray = Assert.Single(mismatches, m => m.GetProperty("subject").GetString() == LeaseIds.Format(leaseD));
        Assert.Contains($"after {expiryD + TimeSpan.FromHours(1):O} (occ lease refund): its escrow expires {expiryD:O}, then the claim window of 1 h",
            stray.GetProperty("cause").GetString());
        Assert.True(audit.ExitCode == 1, string.Join("\n", mismatches.Select(Row)));
    }

    private async Task<System.Text.Json.JsonElement> CreateAsync(string kind, string tenant)
    {
        var created = await market.OccAsync("lease", "create", "--kind", kind, "--hours", "1", "--tenant", tenant, "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        return created.Json.GetProperty("lease");
    }
}

/// <summary>
/// A market whose settlement queues check a submitted voucher 5 s after sending it and whose audit reports it after 20 s:
/// the test has those 5 s to see its lease settled and stop the host, on a machine that may be busy with other tests.
/// </summary>
public sealed class ReusedChannelAuditFixture : MarketFixture
{
    public static readonly TimeSpan ConfirmTimeout = TimeSpan.FromSeconds(20);

    protected override IEnumerable<string> ExtraHostArguments => [$"--Market:SettlementConfirmTimeout={ConfirmTimeout}"];
}

[CollectionDefinition(Name)]
public sealed class ReusedChannelAuditCollection : ICollectionFixture<ReusedChannelAuditFixture>
{
    public const string Name = "reused channel audit";
}
