using System.Diagnostics;
using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Cli;
using OrleansCompute.Cli.Api;
using OrleansCompute.Cli.Devnet;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary><c>occ devnet up</c> as a user runs it: the real host processes, Anvil with a state file, a restart, two hosts.</summary>
public sealed class DevnetTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "occ-devnet-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Devnet_up_deploys_once_refuses_a_second_up_while_it_runs_a_restart_keeps_the_chain_its_contracts_and_balances_and_an_outdated_escrow_is_replaced()
    {
        var apiPort = LoopbackPorts.Free();
        var chainPort = FreeChainPort(apiPort);
        var files = new DevnetFiles(_directory);

        var first = await RunUntilUpAsync(chainPort, apiPort, async api =>
        {
            var offers = await api.GetOffersAsync(null, null, default);
            Assert.Contains(offers, o => o.Kind == "trainium2");
            Assert.Contains(offers, o => o.Kind == "inferentia2");
            Assert.Contains(offers, o => o.Kind == "h100");
            await AssertASecondUpIsRefusedAsync(chainPort, apiPort);
        });
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains("deploying", first.Error);
        // The walkthrough's addresses: the providers' too, and the cast line to paste names the Trainium2 provider's.
        var neuron = DevAccounts.Providers[0].Address;
        Assert.Contains($"neuron-cloud: paid to provider1 {neuron}", first.Output);
        Assert.Contains($"\"providerBalance(address)(uint256)\" {neuron}", first.Output);
        Assert.DoesNotContain("<PROVIDER>", first.Output);
        var deployed = files.ReadConfig()!;
        Assert.True(File.Exists(files.AnvilStatePath), "anvil wrote no state file");

        var second = await RunUntilUpAsync(chainPort, apiPort, async api =>
        {
            var status = await RunOccAsync("devnet", "status", "--json");
            Assert.True(status.ExitCode == 0, status.Error);
            Assert.Contains("\"contractsDeployed\": true", status.Output);
            Assert.Contains("10000.000000", status.Output);
            var human = await RunOccAsync("devnet", "status");
            Assert.True(human.ExitCode == 0, human.Error);
            Assert.Matches(@"escrow conserved\s+yes", human.Output);
            Assert.NotEmpty(await api.GetOffersAsync("trainium2", null, default));
        });
        Assert.True(second.ExitCode == 0, second.Error);
        Assert.Contains("reusing the contracts", second.Error);
        Assert.Equal(deployed.EscrowAddress, files.ReadConfig()!.EscrowAddress);

        // A devnet.json whose escrow is not one this build can speak to (here: the credit token, which has code
        // but no EIP-712 domain; in life, an escrow deployed before a checkout was updated) gets fresh contracts.
        files.WriteConfig(files.ReadConfig()! with { EscrowAddress = deployed.CreditAddress });
        var third = await RunUntilUpAsync(chainPort, apiPort, async api => Assert.NotEmpty(await api.GetOffersAsync("h100", null, default)));
        Assert.True(third.ExitCode == 0, third.Error);
        Assert.Contains("this build speaks version", third.Error);
        Assert.Contains("deploying", third.Error);
        Assert.NotEqual(deployed.CreditAddress, files.ReadConfig()!.EscrowAddress);
    }

    [Fact]
    public async Task Devnet_up_with_two_hosts_runs_one_market_that_leases_and_settles_through_either_and_goes_on_when_the_watching_host_dies()
    {
        var apiPort = FreePortPair();
        var chainPort = FreeChainPort(apiPort, hosts: 2);
        var (first, second) = ($"http://127.0.0.1:{apiPort}", $"http://127.0.0.1:{apiPort + 1}");
        var tenant = DevWallets.Tenants[0];
        string? deadHost = null;

        var run = await RunUntilUpAsync(chainPort, apiPort, async _ =>
        {
            var secondApi = new MarketApiClient(new HttpClient { BaseAddress = new Uri(second) });
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while (!await secondApi.IsHealthyAsync(default) || (await secondApi.GetOffersAsync(null, null, default)).Count == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the second host did not come up");
                await Task.Delay(250);
            }

            // One cluster: both hosts see the same cursor grain, which lets exactly one of them read the chain.
            var chains = new[] { await GetJsonAsync("chain", first), await GetJsonAsync("chain", second) };
            Assert.NotEqual(chains[0].GetProperty("host").GetString(), chains[1].GetProperty("host").GetString());
            // Each host settles from a key of its own: one owner per key's nonces.
            Assert.Equal(DevAccounts.Operator.Address, chains[0].GetProperty("settlesFrom").GetString(), ignoreCase: true);
            Assert.NotEqual(chains[0].GetProperty("settlesFrom").GetString(), chains[1].GetProperty("settlesFrom").GetString(), StringComparer.OrdinalIgnoreCase);
            Assert.Single(chains, c => c.GetProperty("watchingHere").GetBoolean());
            Assert.All(chains, c => Assert.Equal(chains.Single(w => w.GetProperty("watchingHere").GetBoolean()).GetProperty("host").GetString(),
                c.GetProperty("watchedBy").GetString()));
            var status = await RunOccAsync("devnet", "status", "--json");
            Assert.True(status.ExitCode == 0, status.Error);
            var statusHosts = JsonDocument.Parse(status.Output).RootElement.GetProperty("hosts").EnumerateArray().ToList();
            Assert.Equal(2, statusHosts.Count(h => h.GetProperty("up").GetBoolean()));
            Assert.Single(statusHosts, h => h.GetProperty("readsChain").GetBoolean());
            // Each host's process, as `devnet up` started it, so an operator can find its log or stop it.
            var started = new DevnetFiles(_directory).ReadHosts();
            Assert.All(statusHosts, h => Assert.Equal(
                started.Single(s => s.Url.TrimEnd('/') == h.GetProperty("url").GetString()).ProcessId, h.GetProperty("processId").GetInt32()));

            var created = await RunOccAsync("lease", "create", "--kind", "trainium2", "--hours", "1", "--tenant", tenant.Name, "--json", "--api", second);
            Assert.True(created.ExitCode == 0, created.Error);
            var lease = JsonDocument.Parse(created.Output).RootElement.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!;
            Assert.Equal(LeaseStatus.Active, lease.Status);

            var ended = await RunOccAsync("lease", "end", LeaseIds.Format(lease.Id), "--tenant", tenant.Name, "--json", "--api", first);
            Assert.True(ended.ExitCode == 0, ended.Error);
            var settled = JsonDocument.Parse(ended.Output).RootElement.Deserialize<LeaseSnapshot>(ApiJson.Options)!;
            Assert.Equal(LeaseStatus.Settled, settled.Status);

            // The chain agrees, and each host tells the same story.
            var config = new DevnetFiles(_directory).ReadConfig()!;
            var escrow = new EscrowClient(new ChainRpc(config.RpcUrl), config.EscrowAddress, config.CreditAddress);
            var onChain = (await escrow.GetLeaseAsync(lease.Id, tenant.Address, settled.Channel ?? 0))!;
            Assert.True(onChain.Closed);
            Assert.Equal(settled.AmountOwed, onChain.Paid);
            Assert.Equal(settled.AmountOwed, await escrow.GetProviderBalanceAsync(lease.ProviderAddress!));
            Assert.True((await escrow.GetBalanceSheetAsync()).Balances);
            foreach (var host in new[] { first, second })
            {
                var shown = await RunOccAsync("lease", "show", LeaseIds.Format(lease.Id), "--json", "--api", host);
                Assert.Equal("Settled", JsonDocument.Parse(shown.Output).RootElement.GetProperty("status").GetString());
            }

            // The host that reads the chain dies. Until the cluster has noticed, calls to its grains are refused as
            // 503 ClusterUnavailable; then the survivor holds the grains and the watch: a new lease through it is
            // funded (which takes its watcher) and settles (from its own key).
            var watching = chains.Single(c => c.GetProperty("watchingHere").GetBoolean()).GetProperty("host").GetString();
            var (dead, survivor) = chains[0].GetProperty("host").GetString() == watching ? (first, second) : (second, first);
            var hosts = new DevnetFiles(_directory).ReadHosts();
            using (var doomed = Process.GetProcessById(hosts.Single(h => h.Url == dead).ProcessId))
            {
                doomed.Kill(entireProcessTree: true);
                await doomed.WaitForExitAsync();
            }
            var killedAt = DateTime.UtcNow;

            // The devnet is partly up now: status names the dead host and does not send the user to a `devnet up` that
            // would be refused; its --json error says so as JSON.
            var partly = await RunOccAsync("devnet", "status", "--json");
            Assert.Equal(1, partly.ExitCode);
            var partlyError = JsonDocument.Parse(partly.Error).RootElement.GetProperty("error").GetString();
            Assert.Contains($"host {dead} is down", partlyError);
            Assert.Contains($"The market goes on through {survivor}", partlyError);
            Assert.True(JsonDocument.Parse(partly.Output).RootElement.GetProperty("hostUp").GetBoolean());
            var deadStatus = JsonDocument.Parse(partly.Output).RootElement.GetProperty("hosts").EnumerateArray()
                .Single(h => h.GetProperty("url").GetString() == dead.TrimEnd('/'));
            Assert.Equal(JsonValueKind.Null, deadStatus.GetProperty("processId").ValueKind);
            // Its log is what the operator reads next, dead or not.
            Assert.Equal(hosts.Single(h => h.Url == dead).LogPath, deadStatus.GetProperty("logPath").GetString());
            deadHost = dead;

            // A read rides it out by itself: without --api, occ tries the devnet's hosts in turn and waits out the 503s.
            var shownAfter = await RunOccAsync("lease", "show", LeaseIds.Format(lease.Id), "--json");
            Assert.True(shownAfter.ExitCode == 0, shownAfter.Error);
            Assert.Equal("Settled", JsonDocument.Parse(shownAfter.Output).RootElement.GetProperty("status").GetString());

            LeaseSnapshot? later = null;
            while (later is null)
            {
                Assert.True(DateTime.UtcNow - killedAt < TimeSpan.FromSeconds(120), "the surviving host did not take over");
                var attempt = await RunOccAsync("lease", "create", "--kind", "inferentia2", "--hours", "1", "--tenant", tenant.Name, "--json", "--api", survivor);
                if (attempt.ExitCode == 0)
                    later = JsonDocument.Parse(attempt.Output).RootElement.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!;
                else
                {
                    Assert.Contains("cluster", attempt.Error);
                    await Task.Delay(TimeSpan.FromSeconds(1));
                }
            }
            Assert.Equal(LeaseStatus.Active, later.Status);
            Assert.True((await GetJsonAsync("chain", survivor)).GetProperty("watchingHere").GetBoolean());
            var laterEnded = await RunOccAsync("lease", "end", LeaseIds.Format(later.Id), "--tenant", tenant.Name, "--json", "--api", survivor);
            Assert.True(laterEnded.ExitCode == 0, laterEnded.Error);
            Assert.Equal(LeaseStatus.Settled, JsonDocument.Parse(laterEnded.Output).RootElement.Deserialize<LeaseSnapshot>(ApiJson.Options)!.Status);
            Assert.True((await escrow.GetBalanceSheetAsync()).Balances);
        }, "--hosts", "2");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("host 2", run.Error);
        // devnet up itself said that a host went, and where its log is.
        Assert.Contains($"host {deadHost} exited", run.Error);
    }

    [Fact]
    public async Task Devnet_up_starts_anvil_again_when_it_dies_and_the_market_goes_on_with_the_same_chain()
    {
        var apiPort = LoopbackPorts.Free();
        var chainPort = FreeChainPort(apiPort);
        var tenant = DevWallets.Tenants[0];

        var run = await RunUntilUpAsync(chainPort, apiPort, async _ =>
        {
            var before = await CreateAndEndLeaseAsync(tenant, deadline: TimeSpan.Zero);
            // Until Anvil's state file holds the lease (it writes the file every few seconds, later on a busy machine): what is
            // lost with a killed Anvil is another test's.
            var files = new DevnetFiles(_directory);
            var head = (long)(await new ChainRpc(files.ReadConfig()!.RpcUrl).CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync())).Value;
            await AnvilStateHoldsAsync(files, head);

            using (var anvil = AnvilOf(files))
            {
                anvil.Kill();
                await anvil.WaitForExitAsync();
            }

            // The chain comes back at the same address, with the same contracts and the lease settled on it.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!JsonDocument.Parse((await RunOccAsync("devnet", "status", "--json")).Output).RootElement.GetProperty("chainUp").GetBoolean())
            {
                Assert.True(DateTime.UtcNow < deadline, "anvil did not come back");
                await Task.Delay(500);
            }
            var config = files.ReadConfig()!;
            var escrow = new EscrowClient(new ChainRpc(config.RpcUrl), config.EscrowAddress, config.CreditAddress);
            Assert.True((await escrow.GetLeaseAsync(before.Id, tenant.Address, before.Channel ?? 0))!.Closed);

            // The market goes on with it: a new lease is funded and settled, and grains and chain agree.
            var after = await CreateAndEndLeaseAsync(tenant, deadline: TimeSpan.FromSeconds(60));
            Assert.Equal(after.AmountOwed, (await escrow.GetLeaseAsync(after.Id, tenant.Address, after.Channel ?? 0))!.Paid);
            var audit = await RunOccAsync("audit");
            Assert.True(audit.ExitCode == 0, audit.Output + audit.Error);
            Assert.True((await escrow.GetBalanceSheetAsync()).Balances);
        });
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("anvil stopped", run.Error);
        Assert.Contains("anvil is back", run.Error);
    }

    /// <summary>A lease created and ended through <c>occ</c>, settled; creation is tried again until <paramref name="deadline"/> (the hosts may still be reconnecting to the chain).</summary>
    private async Task<LeaseSnapshot> CreateAndEndLeaseAsync(TenantWallet tenant, TimeSpan deadline)
    {
        var giveUp = DateTime.UtcNow + deadline;
        while (true)
        {
            var created = await RunOccAsync("lease", "create", "--kind", "trainium2", "--hours", "1", "--tenant", tenant.Name, "--json");
            if (created.ExitCode != 0)
            {
                Assert.True(DateTime.UtcNow < giveUp, created.Error);
                await Task.Delay(TimeSpan.FromSeconds(1));
                continue;
            }
            var lease = JsonDocument.Parse(created.Output).RootElement.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!;
            Assert.Equal(LeaseStatus.Active, lease.Status);
            var ended = await RunOccAsync("lease", "end", LeaseIds.Format(lease.Id), "--tenant", tenant.Name, "--json");
            Assert.True(ended.ExitCode == 0, ended.Error);
            var settled = JsonDocument.Parse(ended.Output).RootElement.Deserialize<LeaseSnapshot>(ApiJson.Options)!;
            Assert.Equal(LeaseStatus.Settled, settled.Status);
            return settled;
        }
    }

    /// <summary>Waits until Anvil has written its whole state file with the chain up to <paramref name="block"/>.</summary>
    private static async Task AnvilStateHoldsAsync(DevnetFiles files, long block)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        long? held = null;
        while (true)
        {
            try
            {
                // A file being written does not parse: the next read finds it whole.
                using var state = JsonDocument.Parse(await File.ReadAllBytesAsync(files.AnvilStatePath));
                var number = state.RootElement.GetProperty("best_block_number");
                held = number.ValueKind == JsonValueKind.String ? Convert.ToInt64(number.GetString(), 16) : number.GetInt64();
                if (held >= block) return;
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
            }
            Assert.True(DateTime.UtcNow < deadline, $"anvil's state file holds the chain up to block {held?.ToString() ?? "none"}, not {block}");
            await Task.Delay(250);
        }
    }

    /// <summary>The devnet's Anvil: the process started with its state file (Linux tells each process's command line).</summary>
    private static Process AnvilOf(DevnetFiles files)
    {
        foreach (var process in Process.GetProcessesByName("anvil"))
        {
            var commandLine = $"/proc/{process.Id}/cmdline";
            if (File.Exists(commandLine) && File.ReadAllText(commandLine).Contains(files.AnvilStatePath, StringComparison.Ordinal)) return process;
            process.Dispose();
        }
        throw new InvalidOperationException($"No anvil with state file {files.AnvilStatePath} runs.");
    }

    /// <summary>
    /// While a devnet runs, another <c>devnet up</c> on its ports (with --fresh, too) or on other ports over the same files
    /// stops before it starts or writes anything, and the running devnet goes on.
    /// </summary>
    private async Task AssertASecondUpIsRefusedAsync(int chainPort, int apiPort)
    {
        var files = new DevnetFiles(_directory);
        var (hosts, config) = (await File.ReadAllBytesAsync(files.HostsPath), await File.ReadAllBytesAsync(files.ConfigPath));
        var hostProcess = files.ReadHosts().Single().ProcessId;

        foreach (string[] more in new string[][] { [], ["--fresh"] })
        {
            var again = await RunUpExpectingRefusalAsync(["--chain-port", chainPort.ToString(), "--api-port", apiPort.ToString(), .. more]);
            Assert.Equal(1, again.ExitCode);
            Assert.Contains($"ports {chainPort} (the chain), {apiPort} (the host) are in use", again.Error);
            Assert.Contains("seems to run already", again.Error);
            Assert.Contains($"pid {hostProcess}", again.Error);
            Assert.Contains("Ctrl+C", again.Error);
            Assert.DoesNotContain("is up", again.Error + again.Output);
        }

        var elsewhere = await RunUpExpectingRefusalAsync("--chain-port", LoopbackPorts.Free().ToString(), "--api-port", LoopbackPorts.Free().ToString());
        Assert.Equal(1, elsewhere.ExitCode);
        Assert.Contains($"pid {hostProcess}", elsewhere.Error);
        Assert.Contains("on other ports", elsewhere.Error);

        Assert.Equal(hosts, await File.ReadAllBytesAsync(files.HostsPath));
        Assert.Equal(config, await File.ReadAllBytesAsync(files.ConfigPath));
        var offers = await RunOccAsync("offers", "--json");
        Assert.True(offers.ExitCode == 0, offers.Error);
        Assert.Contains("trainium2", offers.Output);
    }

    [Fact]
    public async Task Devnet_status_with_nothing_running_says_the_chain_is_unreachable_rather_than_the_contracts_missing()
    {
        var config = new DevnetConfig($"http://127.0.0.1:{LoopbackPorts.Free()}", 31337, "0x" + new string('1', 40), "0x" + new string('2', 40), 1,
            $"http://127.0.0.1:{LoopbackPorts.Free()}");
        new DevnetFiles(_directory).WriteConfig(config);
        var tenant = DevAccounts.Tenants[0];
        new DevnetFiles(_directory).WriteWallets([new TenantWallet("tenant1", tenant.Address, tenant.PrivateKey)]);

        var (exit, output, error) = await RunOccAsync("devnet", "status");
        Assert.Equal(1, exit);
        Assert.Contains("not running: start it with `./occ devnet up`", error);
        // The wallets are the devnet's files' to tell, whatever the chain: listed, their credits unknown.
        Assert.Matches($@"tenant1\s*│\s*{tenant.Address}\s*│\s*\?", output);
        Assert.Matches(@"chain\s+unreachable", output);
        Assert.Contains("the chain is unreachable", output);
        Assert.DoesNotContain("missing", output);
        Assert.Matches(@"escrow conserved\s+unknown", output);

        var json = await RunOccAsync("devnet", "status", "--json");
        Assert.Equal(1, json.ExitCode);
        var status = JsonDocument.Parse(json.Output).RootElement;
        Assert.False(status.GetProperty("chainUp").GetBoolean());
        Assert.Equal(JsonValueKind.Null, status.GetProperty("contractsDeployed").ValueKind);

        // --api names the host to report on, instead of the devnet's; a value that is no URL is refused by name.
        var elsewhere = $"http://127.0.0.1:{LoopbackPorts.Free()}";
        var named = await RunOccAsync("devnet", "status", "--json", "--api", elsewhere);
        Assert.Equal(elsewhere, Assert.Single(JsonDocument.Parse(named.Output).RootElement.GetProperty("hosts").EnumerateArray()).GetProperty("url").GetString());
        var malformed = await RunOccAsync("devnet", "status", "--api", "127.0.0.1:5080");
        Assert.Equal(1, malformed.ExitCode);
        Assert.Contains("--api: '127.0.0.1:5080' is not a host URL", malformed.Error);
    }

    [Fact]
    public async Task Devnet_up_refuses_fewer_than_one_host_before_starting_anything()
    {
        var (exit, _, error) = await RunUpExpectingRefusalAsync("--hosts", "0", "--chain-port", LoopbackPorts.Free().ToString());
        Assert.Equal(1, exit);
        Assert.Contains("--hosts must be at least 1", error);
        Assert.False(File.Exists(new DevnetFiles(_directory).AnvilStatePath));
    }

    /// <summary>A free port whose successor is free too: the second host takes it.</summary>
    /// <summary>
    /// A free port for Anvil that is none of the hosts' (<paramref name="apiPort"/> and the ports after it): each port is
    /// only free when asked for, so two asks can get the same one, and devnet up rightly refuses a chain port a host takes.
    /// </summary>
    private static int FreeChainPort(int apiPort, int hosts = 1)
    {
        while (true)
        {
            var port = LoopbackPorts.Free();
            if (port < apiPort || port >= apiPort + hosts) return port;
        }
    }

    private static int FreePortPair()
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = LoopbackPorts.Free();
            try
            {
                var next = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port + 1);
                next.Start();
                next.Stop();
                return port;
            }
            catch (System.Net.Sockets.SocketException) when (attempt < 20)
            {
            }
        }
    }

    private static async Task<JsonElement> GetJsonAsync(string what, string api)
    {
        using var http = new HttpClient { BaseAddress = new Uri(api) };
        return JsonDocument.Parse(await http.GetStringAsync($"/api/{what}")).RootElement;
    }

    private async Task<(int ExitCode, string Error, string Output)> RunUntilUpAsync(int chainPort, int apiPort, Func<MarketApiClient, Task> whileUp, params string[] more)
    {
        using var stop = new CancellationTokenSource();
        var (output, error) = (new SharedTextWriter(), new SharedTextWriter());
        var run = OccApp.RunAsync(["devnet", "up", "--chain-port", chainPort.ToString(), "--api-port", apiPort.ToString(), .. more],
            output, error, _directory, stop.Token);

        // Up as its user sees it: the summary printed (it asks the host for the demo providers after the offers show),
        // so that stopping it afterwards never cuts the summary short.
        var api = new MarketApiClient(new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") });
        var deadline = DateTime.UtcNow.AddSeconds(180);
        while (!output.ToString().Contains("devnet is up") || !await api.IsHealthyAsync(default) || (await api.GetOffersAsync(null, null, default)).Count == 0)
        {
            Assert.False(run.IsCompleted, $"devnet up stopped early: {error}");
            Assert.True(DateTime.UtcNow < deadline, $"devnet up did not come up: {error}");
            await Task.Delay(250);
        }
        try
        {
            await whileUp(api);
        }
        catch
        {
            // Stop the devnet (its Anvil and hosts) before the failure ends the test, so nothing outlives it.
            await stop.CancelAsync();
            await run;
            throw;
        }
        await stop.CancelAsync();
        return (await run, error.ToString(), output.ToString());
    }

    /// <summary>A <c>devnet up</c> that should refuse: stopped after a minute if it does not, so the test fails instead of hanging.</summary>
    private async Task<(int ExitCode, string Output, string Error)> RunUpExpectingRefusalAsync(params string[] args)
    {
        using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (output, error) = (new StringWriter(), new StringWriter());
        var exit = await OccApp.RunAsync(["devnet", "up", .. args], output, error, _directory, giveUp.Token);
        return (exit, output.ToString(), error.ToString());
    }

    private async Task<(int ExitCode, string Output, string Error)> RunOccAsync(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var exit = await OccApp.RunAsync(args, output, error, _directory);
        return (exit, output.ToString(), error.ToString());
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }
}
