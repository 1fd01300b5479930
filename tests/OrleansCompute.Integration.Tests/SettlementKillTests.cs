using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Cli.Api;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// Settlement through faults that give no warning: Anvil SIGKILLed while settlement batches are in flight and blocks the
/// market read are newer than its last state dump (the restarted chain has moved backwards), and the host process
/// SIGKILLed while a batch it sent waits in the node's pool. A stream of leases ends before, during and after each; every
/// lease then ends Settled exactly once on chain, each provider is paid what its leases owed, the tenants got back the
/// rest, the escrow's books balance and the audit finds grains and chain agreeing.
/// </summary>
[Collection(KillCollection.Name)]
public sealed class SettlementKillTests(KillableMarketFixture market, ITestOutputHelper output)
{
    private static readonly string[] Kinds = ["h100", "trainium2", "inferentia2", "mi300x"];
    private static readonly TimeSpan SettleDeadline = TimeSpan.FromSeconds(100);

    [Fact]
    public async Task Leases_ended_around_an_anvil_killed_mid_settlement_and_restarted_from_its_state_file_each_settle_exactly_once()
    {
        var books = await BooksAsync.OpenAsync(market);
        var leases = await CreateLeasesAsync(12);
        var (before, seen, inFlight, after) = (leases[..3], leases[3..7], leases[7..10], leases[10..]);

        foreach (var ended in await Task.WhenAll(before.Select(EndAsync))) AssertSettled(ended);

        // Every escrow is in a dump (a killed chain that lost a lease's opening is another story); the next dump is an
        // interval away: the settlements from here to the kill are in blocks the restarted chain will not have.
        var dumped = await WaitForFreshDumpAsync(await market.HeadAsync());
        var window = System.Diagnostics.Stopwatch.StartNew();
        var seenSettled = await Task.WhenAll(seen.Select(EndAsync));
        foreach (var ended in seenSettled) AssertSettled(ended);
        var seenBlocks = await Task.WhenAll(seenSettled.Select(l => SettlementBlockAsync(l.SettlementTransaction!)));

        // Batches in flight at the kill: with automine off the node takes them into its pool and mines nothing. (The
        // restarted Anvil mines as usual; should the test fail before the kill, the next test finds it mining too.)
        await market.Cheats.SetAutomineAsync(false);
        List<Task<OccResult>> inFlightEnds;
        long watcherBlock;
        int reorganizationsBefore;
        try
        {
            inFlightEnds = inFlight.Select(l => market.OccAsync("lease", "end", LeaseIds.Format(l.Lease.Id), "--tenant", l.Tenant, "--json")).ToList();
            await Eventually.WaitForAsync(async () => (await market.OperatorPendingAsync(), await FinalVouchersAsync(inFlight)),
                s => s.Item1 > 0 && s.Item2 == inFlight.Count, TimeSpan.FromSeconds(30));
            var watching = await market.Api.GetChainAsync(CancellationToken.None);
            (watcherBlock, reorganizationsBefore) = (watching.GetProperty("watcherBlock").GetInt64(), watching.GetProperty("watcherReorganizations").GetInt32());
        }
        catch
        {
            await market.Cheats.SetAutomineAsync(true);
            throw;
        }

        await market.KillAnvilAsync();
        output.WriteLine($"Anvil killed {window.Elapsed.TotalSeconds:0.0} s after its state dump at block {dumped}; the watcher had read up to block {watcherBlock}");
        // The state file is what the restart loads: it ends before the blocks of settlements the market saw confirmed.
        var lost = await market.StateFileBlockAsync();
        Assert.NotNull(lost);
        Assert.True(lost >= dumped, $"the state file went back from block {dumped} to {lost}");
        Assert.True(seenBlocks.All(b => b > lost), $"settlement blocks [{string.Join(", ", seenBlocks)}] were dumped (state file at block {lost}): the kill lost none");
        Assert.True(watcherBlock > lost, $"the watcher had read up to block {watcherBlock}, the state file holds {lost}");

        await market.StartAnvilAgainAsync();

        // The market sees the chain moved backwards and undoes what it folded in from the lost blocks: the seen leases are
        // Ended again (until then they still read Settled, from before the kill) and their vouchers go again.
        var chain = await Eventually.WaitForAsync(() => market.Api.GetChainAsync(CancellationToken.None),
            status => status.GetProperty("watcherReorganizations").GetInt32() > reorganizationsBefore, TimeSpan.FromSeconds(60));
        Assert.True(chain.GetProperty("lastReorganization").GetProperty("commonAncestor").GetInt64() <= lost, chain.ToString());

        var afterEnds = after.Select(l => market.OccAsync("lease", "end", LeaseIds.Format(l.Lease.Id), "--tenant", l.Tenant, "--json")).ToList();
        var settled = await WaitAllSettledAsync(leases);
        await Task.WhenAll(inFlightEnds.Concat(afterEnds));

        foreach (var lease in settled.Where(l => seen.Any(s => s.Lease.Id == l.Id)))
        {
            // Settled; its close and its payment undone when the chain lost their block; settled again on the restarted chain.
            Assert.Equal([LeaseReasons.SettledOnChain, LeaseReasons.ReorgedOut, LeaseReasons.ReorgedOut, LeaseReasons.SettledOnChain],
                lease.History.Select(t => t.Reason).Where(r => r is LeaseReasons.SettledOnChain or LeaseReasons.ReorgedOut));
        }
        await books.AssertAsync(settled);
    }

    [Fact]
    public async Task Leases_ended_around_a_host_killed_while_its_settlement_batch_waits_to_be_mined_each_settle_exactly_once()
    {
        var books = await BooksAsync.OpenAsync(market);
        var leases = await CreateLeasesAsync(8);
        var (before, inFlight, after) = (leases[..3], leases[3..6], leases[6..]);

        foreach (var ended in await Task.WhenAll(before.Select(EndAsync))) AssertSettled(ended);

        // The node holds the batches in its pool (automine off) while the host waits for their receipts.
        await market.Cheats.SetAutomineAsync(false);
        List<Task<OccResult>> inFlightEnds;
        try
        {
            inFlightEnds = inFlight.Select(l => market.OccAsync("lease", "end", LeaseIds.Format(l.Lease.Id), "--tenant", l.Tenant, "--json")).ToList();
            var providers = inFlight.Select(l => l.Lease.ProviderAddress).Distinct().Count();
            await Eventually.WaitForAsync(async () => (await market.OperatorPendingAsync(), await FinalVouchersAsync(inFlight)),
                s => s.Item1 >= providers && s.Item2 == inFlight.Count, TimeSpan.FromSeconds(30));
            foreach (var (lease, _) in inFlight)
            {
                // Acknowledged and stored in its provider's queue, sent, and not mined: the grain waits for the batch's receipt.
                var queue = await market.Api.InspectAsync("settlement", lease.ProviderAddress!, CancellationToken.None);
                var item = queue.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("voucher").GetProperty("leaseId").GetGuid() == lease.Id);
                Assert.NotEqual("Confirmed", item.GetProperty("status").GetString());
                Assert.Equal(LeaseStatus.Ended, (await market.Api.GetLeaseAsync(LeaseIds.Format(lease.Id), CancellationToken.None)).Status);
                Assert.False((await market.Escrow.FindOpenedAsync(lease.Id, lease.Tenant))!.Closed);
            }

            await market.KillHostAsync();
        }
        finally
        {
            // The batches the dead host sent are mined while no host runs: paid on chain, unrecorded in the market.
            await market.Cheats.SetAutomineAsync(true);
        }
        await market.Cheats.MineAsync();
        Assert.Equal(0, await market.OperatorPendingAsync());
        foreach (var (lease, _) in inFlight)
            Assert.True((await market.Escrow.FindOpenedAsync(lease.Id, lease.Tenant)) is { Closed: true }, "the batch was not mined");

        await market.StartHostAsync();
        var afterEnds = after.Select(l => market.OccAsync("lease", "end", LeaseIds.Format(l.Lease.Id), "--tenant", l.Tenant, "--json")).ToList();
        var settled = await WaitAllSettledAsync(leases);
        await Task.WhenAll(inFlightEnds.Concat(afterEnds));

        // The restarted host learned the in-flight batches' payments from the chain, once, and sent nothing that paid again.
        foreach (var lease in settled.Where(l => inFlight.Any(s => s.Lease.Id == l.Id)))
            Assert.Single(lease.History, t => t.Reason == LeaseReasons.SettledOnChain);
        await books.AssertAsync(settled);
    }

    /// <summary>Leases across four kinds (three providers) and the four funded tenants, each tenant's opened one after another.</summary>
    private async Task<List<(LeaseSnapshot Lease, string Tenant)>> CreateLeasesAsync(int count)
    {
        var perTenant = await Task.WhenAll(Enumerable.Range(0, 4).Select(async t =>
        {
            var created = new List<(int Index, LeaseSnapshot Lease, string Tenant)>();
            for (var i = t; i < count; i += 4)
            {
                var tenant = market.Wallets[t].Name;
                var result = await market.OccAsync("lease", "create", "--kind", Kinds[i % Kinds.Length], "--hours", "1", "--tenant", tenant, "--json");
                Assert.True(result.ExitCode == 0, result.ToString());
                created.Add((i, result.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!, tenant));
            }
            return created;
        }));
        return perTenant.SelectMany(c => c).OrderBy(c => c.Index).Select(c => (c.Lease, c.Tenant)).ToList();
    }

    private async Task<LeaseSnapshot> EndAsync((LeaseSnapshot Lease, string Tenant) lease)
    {
        var result = await market.OccAsync("lease", "end", LeaseIds.Format(lease.Lease.Id), "--tenant", lease.Tenant, "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!;
    }

    private static void AssertSettled(LeaseSnapshot lease) => Assert.Equal(LeaseStatus.Settled, lease.Status);

    private async Task<int> FinalVouchersAsync(IEnumerable<(LeaseSnapshot Lease, string Tenant)> leases)
    {
        var count = 0;
        foreach (var (lease, _) in leases)
            if ((await market.Api.GetLeaseAsync(LeaseIds.Format(lease.Id), CancellationToken.None)).FinalVoucher is not null) count++;
        return count;
    }

    private async Task<List<LeaseSnapshot>> WaitAllSettledAsync(List<(LeaseSnapshot Lease, string Tenant)> leases)
    {
        try
        {
            return [.. await Task.WhenAll(leases.Select(l => Eventually.WaitForAsync(
                async () => await market.Api.GetLeaseAsync(LeaseIds.Format(l.Lease.Id), CancellationToken.None),
                lease => lease.Status == LeaseStatus.Settled, SettleDeadline)))];
        }
        catch (Xunit.Sdk.XunitException failed)
        {
            throw new Xunit.Sdk.XunitException($"{failed.Message}\nhost log:\n{market.HostLogTail(200)}");
        }
    }

    /// <summary>Waits for Anvil to write its state file anew holding at least <paramref name="block"/>; returns the block it holds.</summary>
    private async Task<long> WaitForFreshDumpAsync(long block)
    {
        var written = File.GetLastWriteTimeUtc(market.StatePath);
        var (changed, held) = await Eventually.WaitForAsync(async () => (File.GetLastWriteTimeUtc(market.StatePath), await market.StateFileBlockAsync()),
            s => s.Item1 != written && s.Item2 >= block, TimeSpan.FromSeconds(KillableMarketFixture.StateIntervalSeconds * 3));
        return held!.Value;
    }

    private async Task<long> SettlementBlockAsync(string transaction) =>
        (long)(await market.Rpc.CallAsync(web3 => web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(transaction))).BlockNumber.Value;

    /// <summary>What the tenants and providers hold before a test, to check that its leases moved exactly their money.</summary>
    private sealed class BooksAsync
    {
        private readonly KillableMarketFixture _market;
        private readonly Dictionary<string, Credits> _tenants = new(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<string, Credits> _providers = new(StringComparer.OrdinalIgnoreCase);

        private BooksAsync(KillableMarketFixture market) => _market = market;

        public static async Task<BooksAsync> OpenAsync(KillableMarketFixture market)
        {
            var books = new BooksAsync(market);
            foreach (var wallet in market.Wallets) books._tenants[wallet.Address] = await books.TenantHoldsAsync(wallet.Address);
            foreach (var provider in Host.Devnet.DemoMarket.Pools.Select(p => p.PayoutAddress).Distinct(StringComparer.OrdinalIgnoreCase))
                books._providers[provider] = await market.Escrow.GetProviderBalanceAsync(provider);
            return books;
        }

        private async Task<Credits> TenantHoldsAsync(string tenant) =>
            await _market.Escrow.Credit.BalanceOfAsync(tenant) + await _market.Escrow.GetTenantBalanceAsync(tenant);

        /// <summary>
        /// Each lease Settled once on chain at what the market says it owed, the rest back with its tenant; every provider
        /// paid the sum of its leases, every tenant short of exactly that; the escrow conserved; the audit clean.
        /// </summary>
        public async Task AssertAsync(IReadOnlyList<LeaseSnapshot> leases)
        {
            var head = (long)(await _market.Rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync())).Value;
            var events = await new EscrowEventReader(_market.Rpc, _market.Devnet.EscrowAddress).ReadAsync(_market.Devnet.DeployBlock, head);
            foreach (var lease in leases)
            {
                Assert.Equal(LeaseStatus.Settled, lease.Status);
                var onChain = (await _market.Escrow.GetLeaseAsync(lease.Id, lease.VoucherSigner ?? lease.Tenant, lease.Channel ?? 0))!;
                Assert.True(onChain.Closed, $"lease {lease.Id} is not closed on chain");
                Assert.Equal(lease.AmountOwed, onChain.Paid);
                Assert.Equal((lease.AmountOwed, lease.Deposit - lease.AmountOwed), (lease.Paid, lease.Refunded));
                var settledEvents = events.OfType<EscrowLeaseSettled>().Where(e => e.LeaseId == lease.Id).ToList();
                Assert.True(settledEvents.Count == 1, $"lease {lease.Id} was paid {settledEvents.Count} times on chain");
                Assert.Equal(lease.AmountOwed, settledEvents[0].Amount);
                Assert.Single(events.OfType<EscrowLeaseClosed>(), e => e.LeaseId == lease.Id);
            }
            foreach (var (provider, before) in _providers)
            {
                var owed = leases.Where(l => string.Equals(l.ProviderAddress, provider, StringComparison.OrdinalIgnoreCase))
                    .Aggregate(Credits.Zero, (sum, l) => sum + l.AmountOwed);
                Assert.Equal(before + owed, await _market.Escrow.GetProviderBalanceAsync(provider));
            }
            foreach (var (tenant, before) in _tenants)
            {
                var paid = leases.Where(l => string.Equals(l.Tenant, tenant, StringComparison.OrdinalIgnoreCase))
                    .Aggregate(Credits.Zero, (sum, l) => sum + l.AmountOwed);
                Assert.Equal(before - paid, await TenantHoldsAsync(tenant));
            }
            var sheet = await _market.Escrow.GetBalanceSheetAsync();
            Assert.True(sheet.Balances, $"escrow holds {sheet.TokenBalance}, held for tenants {sheet.TotalHeld} + owed {sheet.TotalOwed} + fees {sheet.FeesAccrued}");
            var audit = await _market.OccAsync("audit", "--json");
            Assert.True(audit.ExitCode == 0, audit.ToString());
        }
    }
}
