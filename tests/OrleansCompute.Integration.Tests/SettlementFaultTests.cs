using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// Leases end while the chain is failing under the market: the node answers errors, drops requests, answers slowly,
/// is stopped and restarted from its state file, the host itself restarts mid-settlement, or the chain reorganizes
/// away settlements the market had already seen. After recovery every lease is settled exactly once, the audit finds no
/// mismatch and the escrow's books balance. A market of its own, since the faults hit every chain client of the host.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class SettlementFaultTests(MarketFixture market)
{
    private static readonly string[] Kinds = ["h100", "trainium2", "inferentia2", "mi300x"];

    public static TheoryData<string> Faults => ["errors", "drops", "slow", "anvil-restart", "host-restart"];

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Leases_ended_during_a_chain_fault_are_each_settled_exactly_once_after_recovery(string fault)
    {
        var leases = new List<(LeaseSnapshot Lease, string Tenant)>();
        for (var i = 0; i < Kinds.Length; i++)
        {
            var tenant = market.Wallets[i % 4];
            var created = await market.OccAsync("lease", "create", "--kind", Kinds[i], "--hours", "1", "--tenant", tenant.Name, "--json");
            Assert.True(created.ExitCode == 0, created.ToString());
            leases.Add((created.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!, tenant.Name));
        }
        var faultedBefore = market.Rpc.Faulted;

        Task recovery;
        switch (fault)
        {
            case "anvil-restart":
                recovery = market.RestartAnvilAsync(downFor: TimeSpan.FromSeconds(3));
                break;
            case "host-restart":
                market.Rpc.Fault = RpcFault.Slow;
                market.Rpc.Delay = TimeSpan.FromMilliseconds(700);
                // The host stops while its first settlement batch is on its way to the node: mid-batch, not before it.
                var sending = market.Rpc.NextSendAsync();
                recovery = Task.Run(async () =>
                {
                    await sending.WaitAsync(TimeSpan.FromSeconds(60));
                    await market.RestartHostAsync();
                    market.Rpc.Fault = RpcFault.None;
                });
                break;
            default:
                market.Rpc.Fault = fault switch { "errors" => RpcFault.Errors, "drops" => RpcFault.Drops, _ => RpcFault.Slow };
                market.Rpc.Delay = TimeSpan.FromSeconds(6);
                recovery = Task.Run(async () =>
                {
                    await Task.Delay(TimeSpan.FromSeconds(5));
                    market.Rpc.Fault = RpcFault.None;
                });
                break;
        }

        // occ lease end needs no chain of its own (the voucher is signed offline); it waits for the market to settle.
        var ended = await Task.WhenAll(leases.Select(l => market.OccAsync("lease", "end", LeaseIds.Format(l.Lease.Id), "--tenant", l.Tenant, "--json")));
        await recovery;
        market.Rpc.Fault = RpcFault.None;

        foreach (var (result, (lease, tenant)) in ended.Zip(leases))
        {
            Assert.True(result.ExitCode == 0, $"{fault}: {result}");
            var settled = result.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!;
            Assert.Equal(LeaseStatus.Settled, settled.Status);
            var onChain = (await market.OnChainAsync(lease.Id))!;
            Assert.True(onChain.Closed);
            Assert.Equal(settled.AmountOwed, onChain.Paid);
            Assert.Equal(settled.AmountOwed, settled.Paid);
            Assert.Equal(lease.Deposit - settled.AmountOwed, settled.Refunded);
        }
        if (fault is not ("anvil-restart")) Assert.True(market.Rpc.Faulted > faultedBefore, "the fault was never hit");

        var audit = await market.OccAsync("audit", "--json");
        Assert.True(audit.ExitCode == 0, $"{fault}: {audit}");
        await market.AssertConservedAsync();
    }

    [Fact]
    public async Task Settlements_a_reorganization_drops_after_the_market_saw_them_are_rolled_back_and_each_lease_settles_exactly_once()
    {
        // The host watches with no confirmations (as on the devnet), so any reorganization is deeper than that: the case
        // where what the watcher folded in must be rolled back.
        var rpc = new ChainRpc(market.Rpc.Url);
        var leases = new List<(LeaseSnapshot Lease, string Tenant)>();
        for (var i = 0; i < 6; i++)
        {
            var tenant = market.Wallets[i % 4];
            var created = await market.OccAsync("lease", "create", "--kind", Kinds[i % Kinds.Length], "--hours", "1", "--tenant", tenant.Name, "--json");
            Assert.True(created.ExitCode == 0, created.ToString());
            leases.Add((created.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!, tenant.Name));
        }
        var (early, late) = (leases[..4], leases[4..]);

        var ended = await Task.WhenAll(early.Select(l => EndAsync(l.Lease, l.Tenant)));
        Assert.All(ended, lease => Assert.Equal(LeaseStatus.Settled, lease.Status));
        var settlementBlocks = await Task.WhenAll(ended.Select(l => l.SettlementTransaction).Distinct().Select(async hash =>
            (long)(await rpc.CallAsync(web3 => web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(hash))).BlockNumber.Value));
        var head = (long)(await rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync())).Value;
        Assert.True((await market.Api.GetChainAsync(CancellationToken.None)).GetProperty("watcherBlock").GetInt64() >= head,
            "the watcher had not read the settlement blocks");
        var depth = (int)(head - settlementBlocks.Min() + 1);

        await new AnvilCheats(rpc).ReorgAsync(depth);
        foreach (var lease in ended) Assert.False((await market.OnChainAsync(lease.Id))!.Closed);
        var chain = await Eventually.WaitForAsync(() => market.Api.GetChainAsync(CancellationToken.None),
            status => status.GetProperty("watcherReorganizations").GetInt32() >= 1);
        Assert.True(chain.GetProperty("lastReorganization").GetProperty("depth").GetInt64() >= depth, chain.ToString());
        // The stream goes on while the dropped vouchers are sent again. (Ended before the watcher sees the reorganization,
        // a lease's batch would go out on a nonce the dropped blocks had used, and wait out the settlement timeout.)
        var endedLate = Task.WhenAll(late.Select(l => EndAsync(l.Lease, l.Tenant)));
        var settled = await Task.WhenAll(leases.Select(l => Eventually.WaitForAsync(
            () => market.Api.GetLeaseAsync(LeaseIds.Format(l.Lease.Id), CancellationToken.None), lease => lease.Status == LeaseStatus.Settled,
            TimeSpan.FromSeconds(90))));
        await endedLate;

        foreach (var lease in settled)
        {
            var onChain = (await market.OnChainAsync(lease.Id))!;
            Assert.True(onChain.Closed);
            Assert.Equal(lease.AmountOwed, onChain.Paid);
            Assert.Equal((lease.AmountOwed, lease.Deposit - lease.AmountOwed), (lease.Paid, lease.Refunded));
        }
        foreach (var lease in settled.Take(early.Count))
        {
            // Settled; its close and its payment undone when their block was dropped; settled again on the new chain.
            Assert.Equal([LeaseReasons.SettledOnChain, LeaseReasons.ReorgedOut, LeaseReasons.ReorgedOut, LeaseReasons.SettledOnChain],
                lease.History.Select(t => t.Reason).Where(r => r is LeaseReasons.SettledOnChain or LeaseReasons.ReorgedOut));
        }

        var audit = await market.OccAsync("audit", "--json");
        Assert.True(audit.ExitCode == 0, audit.ToString());
        await market.AssertConservedAsync();
    }

    [Fact]
    public async Task A_tenant_leaving_on_chain_whose_closing_a_reorganization_drops_stays_Ended_with_its_slot_free_and_the_books_balance()
    {
        var rpc = new ChainRpc(market.Rpc.Url);
        var tenant = market.Wallets[3];
        var created = await market.OccAsync("lease", "create", "--kind", "inferentia2", "--hours", "1", "--tenant", tenant.Name, "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var lease = created.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        var id = LeaseIds.Format(lease.Id);
        var left = await market.OccAsync("lease", "leave", id, "--amount", "0.01", "--tenant", tenant.Name, "--json");
        Assert.True(left.ExitCode == 0, left.ToString());
        var transaction = left.Json.GetProperty("transaction").GetString()!;
        var ended = await Eventually.WaitForAsync(() => market.Api.GetLeaseAsync(id, CancellationToken.None),
            l => l.Status == LeaseStatus.Ended && l.Paid == Credits.FromCredits(0.01m));
        // The tenant's closing ended it, and the payment its voucher made is in its settlement history.
        Assert.Contains(ended.History, t => t is { Reason: LeaseReasons.ClosingOnChain, Status: LeaseStatus.Ended });
        Assert.Contains(transaction, ended.History.Single(t => t.Reason == LeaseReasons.PaidOnChain).Detail);
        var freeAfterLeaving = await market.FreeSlotsAsync(lease.PoolKey!);

        // The block of the tenant's closing (and its payment) is dropped after the market saw it.
        var closingBlock = (long)(await rpc.CallAsync(web3 => web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(transaction))).BlockNumber.Value;
        var head = (long)(await rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync())).Value;
        await new AnvilCheats(rpc).ReorgAsync((int)(head - closingBlock + 1));

        var rolledBack = await Eventually.WaitForAsync(() => market.Api.GetLeaseAsync(id, CancellationToken.None),
            l => l.Paid == Credits.Zero && l.History.Any(t => t.Reason == LeaseReasons.ReorgedOut && t.Detail?.Contains("closing") == true));
        Assert.Equal(LeaseStatus.Ended, rolledBack.Status);
        Assert.Contains(transaction, rolledBack.History.Single(t => t.Reason == LeaseReasons.ReorgedOut && t.Detail!.Contains("closing")).Detail);
        var onChain = (await market.OnChainAsync(lease.Id))!;
        Assert.Equal((false, Credits.Zero), (onChain.Closed, onChain.Paid));
        Assert.Equal(freeAfterLeaving, await market.FreeSlotsAsync(lease.PoolKey!));

        var audit = await market.OccAsync("audit", "--json");
        Assert.True(audit.ExitCode == 0, audit.ToString());
        await market.AssertConservedAsync();
    }

    private async Task<LeaseSnapshot> EndAsync(LeaseSnapshot lease, string tenant)
    {
        var result = await market.OccAsync("lease", "end", LeaseIds.Format(lease.Id), "--tenant", tenant, "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!;
    }
}

[CollectionDefinition(Name)]
public sealed class FaultCollection : ICollectionFixture<MarketFixture>
{
    public const string Name = "faults";
}
