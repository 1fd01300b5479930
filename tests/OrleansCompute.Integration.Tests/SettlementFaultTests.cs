using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// Leases end while the chain is failing under the market: the node answers errors, drops requests, answers slowly,
/// is stopped and restarted from its state file, or the host itself restarts mid-settlement. After recovery every
/// lease is settled exactly once, the audit finds no mismatch and the escrow's books balance. A market of its own,
/// since the faults hit every chain client of the host.
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
                recovery = Task.Run(async () =>
                {
                    await Task.Delay(TimeSpan.FromSeconds(1.5));
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
            var onChain = (await market.Escrow.GetLeaseAsync(lease.Id, lease.Tenant))!;
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
}

[CollectionDefinition(Name)]
public sealed class FaultCollection : ICollectionFixture<MarketFixture>
{
    public const string Name = "faults";
}
