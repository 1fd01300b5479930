using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// occ audit from the market's side: what the grains count as funded or queued for settlement against what the chain has.
/// A market of its own (its own Anvil and host), whose chain the test reorganizes deeper than the watcher remembers.
/// </summary>
[Collection(SettlementAuditCollection.Name)]
public sealed class SettlementAuditTests(SettlementAuditFixture market)
{
    [Fact]
    public async Task The_audit_names_a_lease_counted_funded_whose_escrow_a_deep_reorganization_removed_and_its_voucher_that_cannot_reach_the_chain()
    {
        var rpc = new ChainRpc(market.Devnet.RpcUrl);
        var watcher = market.HostServices.GetRequiredService<EscrowEventWatcher>();
        var beforeFunding = await rpc.CallAsync(web3 => web3.Client.SendRequestAsync<string>("evm_snapshot"));
        var created = await market.OccAsync("lease", "create", "--kind", "h100", "--hours", "1", "--tenant", market.Wallets[0].Name, "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var leaseId = created.Json.GetProperty("lease").GetProperty("id").GetGuid();

        // The funding is buried deeper than the watcher remembers, then the chain goes back to before it: the watcher
        // cannot hand back an event it no longer remembers, and the market goes on counting the lease as funded.
        await MineAsync(rpc, 100);
        await WatcherCaughtUpAsync(rpc, watcher);
        await rpc.CallAsync(web3 => web3.Client.SendRequestAsync<bool>("evm_revert", null, beforeFunding));
        await MineAsync(rpc, 120);
        await WatcherCaughtUpAsync(rpc, watcher, reorganizations: 1);
        Assert.Equal(LeaseStatus.Active, (await market.Api.GetLeaseAsync(LeaseIds.Format(leaseId), CancellationToken.None)).Status);

        // Its final voucher is refused (UnknownLease, which may pass) and waits past the time a voucher has to be confirmed.
        // Ended through its grain, as occ lease end does, without occ's wait for a settlement that cannot come.
        var lease = market.HostServices.GetRequiredService<IGrainFactory>().GetGrain<ILeaseGrain>(leaseId);
        var ended = await lease.EndAsync(market.Wallets[0].Address);
        var final = new VoucherSigner(market.Devnet.ChainId, market.Devnet.EscrowAddress)
            .Sign(market.Wallets[0].PrivateKey, leaseId, ended.Channel ?? 0, ended.AmountOwed, isFinal: true);
        await lease.SubmitFinalVoucherAsync(market.Wallets[0].Address, final);
        await Task.Delay(SettlementAuditFixture.ConfirmTimeout + TimeSpan.FromSeconds(1));

        var audit = await market.OccAsync("audit", "--json");

        Assert.Equal(1, audit.ExitCode);
        var mismatches = audit.Json.GetProperty("mismatches").EnumerateArray()
            .Where(m => m.GetProperty("subject").GetString() == LeaseIds.Format(leaseId))
            .ToDictionary(m => m.GetProperty("field").GetString()!, m => m.GetProperty("cause").GetString()!);
        Assert.Contains("the chain has no escrow for it", mismatches["escrow"]);
        Assert.Contains("reorganization deeper than the watcher remembers", mismatches["escrow"]);
        Assert.Contains("final voucher", mismatches["settlement"]);
        Assert.Contains("no escrow it could pay from", mismatches["settlement"]);
        var text = await market.OccAsync("audit");
        Assert.Equal(1, text.ExitCode);
        Assert.Contains("settlement", text.Output);
    }

    private static Task MineAsync(ChainRpc rpc, int blocks) =>
        rpc.CallAsync(web3 => web3.Client.SendRequestAsync<object>("anvil_mine", null, $"0x{blocks:x}"));

    private static async Task WatcherCaughtUpAsync(ChainRpc rpc, EscrowEventWatcher watcher, int reorganizations = 0)
    {
        var head = (long)(await rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync())).Value;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (watcher.LastProcessedBlock < head || watcher.Reorganizations < reorganizations)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"The watcher is at block {watcher.LastProcessedBlock} of {head}, {watcher.Reorganizations} reorganization(s) undone.");
            await Task.Delay(100);
        }
    }
}

/// <summary>A market whose settlement confirms (or is reported by the audit) within seconds, not a minute.</summary>
public sealed class SettlementAuditFixture : MarketFixture
{
    public static readonly TimeSpan ConfirmTimeout = TimeSpan.FromSeconds(3);

    protected override IEnumerable<string> ExtraHostArguments => [$"--Market:SettlementConfirmTimeout={ConfirmTimeout}"];
}

[CollectionDefinition(Name)]
public sealed class SettlementAuditCollection : ICollectionFixture<SettlementAuditFixture>
{
    public const string Name = "settlement audit";
}
