using System.CommandLine;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Cli.Api;
using OrleansCompute.Cli.Devnet;
using Spectre.Console;

namespace OrleansCompute.Cli.Commands;

/// <summary><c>occ devnet up|status</c>: the local chain and market.</summary>
public static class DevnetCommands
{
    public static Command Create()
    {
        var devnet = new Command("devnet", "Run and check the local devnet: Anvil, the contracts, the market host.");
        devnet.Subcommands.Add(UpCommand());
        devnet.Subcommands.Add(StatusCommand());
        return devnet;
    }

    private static Command UpCommand()
    {
        var fresh = new Option<bool>("--fresh") { Description = "Forget the devnet's chain and files and start from nothing." };
        var chainPort = new Option<int>("--chain-port") { Description = "Anvil's port.", DefaultValueFactory = _ => 8545 };
        var apiPort = new Option<int>("--api-port") { Description = "The first host's HTTP port; further hosts take the ports after it.", DefaultValueFactory = _ => 5080 };
        var hosts = new Option<int>("--hosts")
        {
            Description = "How many hosts to run: one Orleans cluster over the devnet's store, each host with its own HTTP port, any of them serving any request.",
            DefaultValueFactory = _ => 1,
        };
        var command = new Command("up", "Start Anvil (state in .devnet/), deploy the contracts once, fund tenant wallets, start the host (or hosts), seed demo providers; runs until Ctrl+C.")
            { fresh, chainPort, apiPort, hosts };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            await new DevnetRunner(context).UpAsync(parse.GetValue(fresh), parse.GetValue(chainPort), parse.GetValue(apiPort), parse.GetValue(hosts),
                async devnet =>
                {
                    var providers = context.Json ? [] : await DemoProvidersAsync(context, ct);
                    context.Print(devnet, console => PrintReady(console, devnet, context, providers));
                }, ct);
        }));
        return command;
    }

    /// <summary>
    /// A provider as the walkthrough names it: its id, the wallet its pools pay, that wallet's address, and whether it has the
    /// cheapest Trainium2 offer (the one the walkthrough's `lease create --kind trainium2` takes, whose balance it checks).
    /// </summary>
    private sealed record DemoProvider(string Id, string Wallet, string Address, bool CheapestTrainium2);

    /// <summary>The providers whose pools the host offers, by the payout wallets of the devnet; none when the host cannot say.</summary>
    private static async Task<IReadOnlyList<DemoProvider>> DemoProvidersAsync(CliContext context, CancellationToken ct)
    {
        try
        {
            var api = context.Api();
            var ids = await ProviderCommands.ProviderIdsByPayoutAsync(api, ct);
            var trainium2 = (await api.GetOffersAsync("trainium2", null, ct)).MinBy(o => o.PricePerSlotHour)?.ProviderId;
            return context.Devnet.ReadProviderWallets()
                .SelectMany(wallet => ids.GetValueOrDefault(wallet.Address, [])
                    .Select(id => new DemoProvider(id, wallet.Name, wallet.Address, id == trainium2)))
                .ToList();
        }
        catch (ApiException)
        {
            return []; // The startup summary goes on without them; `occ provider balance` names them later.
        }
    }

    private static void PrintReady(IAnsiConsole console, DevnetConfig devnet, CliContext context, IReadOnlyList<DemoProvider> providers)
    {
        console.MarkupLine("[green]OrleansCompute devnet is up.[/] Ctrl+C stops it; `./occ devnet up` again resumes the same chain.");
        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("chain (Anvil)", $"{devnet.RpcUrl}  chain id {devnet.ChainId}");
        grid.AddRow("credit token", devnet.CreditAddress);
        grid.AddRow("lease escrow", devnet.EscrowAddress);
        grid.AddRow("HTTP API", $"{devnet.ApiUrl}/api/offers");
        foreach (var (url, index) in devnet.AllHostUrls.Select((url, index) => (url, index)).Skip(1))
            grid.AddRow($"host {index + 1}", $"{url}/api/offers  (same market: `--api {url}`)");
        grid.AddRow("OpenAPI", $"{devnet.ApiUrl}/openapi/v1.json");
        grid.AddRow("dashboard", $"{devnet.ApiUrl}/dashboard");
        foreach (var (wallet, index) in context.Devnet.ReadWallets().Select((wallet, index) => (wallet, index)))
            grid.AddRow(index == 0 ? "tenants" : "", $"{wallet.Name} {wallet.Address}");
        foreach (var (provider, index) in providers.Select((provider, index) => (provider, index)))
            grid.AddRow(index == 0 ? "providers" : "", Markup.Escape($"{provider.Id}: paid to {provider.Wallet} {provider.Address}"));
        console.Write(grid);
        console.WriteLine();
        console.MarkupLine("In another terminal:");
        foreach (var line in new[]
                 {
                     "./occ offers",
                     "./occ lease create --kind trainium2 --slots 1 --hours 1",
                     "./occ inspect lease <LEASE_ID>",
                     "./occ lease end <LEASE_ID>",
                     $"$(contracts/run.sh bin cast) call {devnet.EscrowAddress} \"providerBalance(address)(uint256)\" {TrainiumProvider(providers)} --rpc-url {devnet.RpcUrl}",
                 })
        {
            // Written as is, never wrapped to the terminal's width: these lines are for pasting.
            context.Output.WriteLine("  " + line);
        }
    }

    /// <summary>The Trainium2 provider's payout address, whose balance the walkthrough's lease pays.</summary>
    private static string TrainiumProvider(IReadOnlyList<DemoProvider> providers) =>
        providers.FirstOrDefault(p => p.CheapestTrainium2)?.Address ?? "<PROVIDER>";

    private static Command StatusCommand()
    {
        var command = new Command("status", "Chain, contracts, host and seeded accounts of the local devnet; exit 1 when something is down.");
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var devnet = context.DevnetConfig();
            var status = await DevnetStatus.ReadAsync(context, devnet, ct);
            context.Print(status, console =>
            {
                var grid = new Grid().AddColumn().AddColumn();
                grid.AddRow("chain", status.ChainBlock is { } block
                    ? $"[green]up[/] at {Markup.Escape(devnet.RpcUrl)}, block {block}"
                    : $"[red]unreachable[/] at {Markup.Escape(devnet.RpcUrl)}");
                // Without the chain nothing is known about the contracts: they are not missing, just not seen.
                grid.AddRow("contracts", !status.ChainUp ? $"unknown: the chain is unreachable (escrow {devnet.EscrowAddress})"
                    : status.ContractsDeployed == true ? $"[green]deployed[/] escrow {devnet.EscrowAddress}"
                    : $"[red]missing[/] (no code at escrow {devnet.EscrowAddress})");
                foreach (var host in status.Hosts)
                {
                    var log = host.LogPath is { } path ? $"log {Markup.Escape(Path.GetRelativePath(Environment.CurrentDirectory, path))}" : null;
                    var process = host.ProcessId is { } pid ? $", pid {pid}, {log}" : log is null ? "" : $"; its {log}";
                    grid.AddRow("host", host.Up
                        ? $"[green]up[/] at {Markup.Escape(host.Url)}{(host.ReadsChain == true && status.Hosts.Count > 1 ? " (reads the chain)" : "")}{process}"
                        : $"[red]down[/] ({Markup.Escape(host.Url)}{process})");
                }
                grid.AddRow("escrow conserved", status.Conserved switch { true => "[green]yes[/]", false => "[red]no[/]", null => "unknown" });
                console.Write(grid);
                var tenants = new Table().AddColumns("tenant", "address", "credits");
                foreach (var t in status.Tenants) tenants.AddRow(t.Name, t.Address, t.Credits?.ToString() ?? "?");
                console.Write(tenants);
            });
            if (status.ChainBlock is null || status.ContractsDeployed != true || status.Hosts.Any(host => !host.Up))
                throw new CliException(NotUp(status, context.ApiGiven));
        }));
        return command;
    }

    /// <summary>
    /// What is down and what to do about it: start the devnet when nothing runs; when part of it runs, `devnet up` would be
    /// refused, and hosts that are still up serve the market (occ fails over to them).
    /// </summary>
    private static string NotUp(DevnetStatus status, bool apiGiven)
    {
        var down = status.Hosts.Where(h => !h.Up).Select(h => h.Url).ToList();
        if (apiGiven && down.Count > 0) return $"no host answers at {down[0]}.";
        if (!status.ChainUp && down.Count == status.Hosts.Count)
            return "the devnet is not running: start it with `./occ devnet up`.";
        var what = string.Join(" and ", new[]
        {
            !status.ChainUp ? "the chain is unreachable" : status.ContractsDeployed != true ? "the contracts are missing" : null,
            down.Count > 0 ? $"{(down.Count == 1 ? "host" : "hosts")} {string.Join(", ", down)} {(down.Count == 1 ? "is" : "are")} down" : null,
        }.OfType<string>());
        var serving = status.ChainUp && status.ContractsDeployed == true && down.Count < status.Hosts.Count
            ? $" The market goes on through {string.Join(", ", status.Hosts.Where(h => h.Up).Select(h => h.Url))} (occ fails over to it);"
              + " to bring the rest back, stop the `occ devnet up` that runs it (Ctrl+C) and start it again."
            : " Stop the `occ devnet up` that runs it (Ctrl+C) and start it again.";
        return $"the devnet is partly up: {what}.{serving}";
    }
}

/// <summary>
/// What <c>occ devnet status</c> reports; <see cref="HostUp"/> whether any host answers (commands fail over among them),
/// <see cref="ContractsDeployed"/> null when the chain did not answer.
/// </summary>
public sealed record DevnetStatus(long? ChainBlock, bool? ContractsDeployed, IReadOnlyList<HostStatus> Hosts, bool? Conserved, IReadOnlyList<TenantStatus> Tenants)
{
    public bool HostUp => Hosts.Any(h => h.Up);

    /// <summary>Whether the chain answered; when it did not, <see cref="ContractsDeployed"/> is unknown (null).</summary>
    public bool ChainUp => ChainBlock is not null;

    public static async Task<DevnetStatus> ReadAsync(CliContext context, DevnetConfig devnet, CancellationToken ct)
    {
        var rpc = new ChainRpc(devnet.RpcUrl, new RpcResilienceOptions { MaxRetryAttempts = 0, AttemptTimeout = TimeSpan.FromSeconds(2) });
        long? block = null;
        var deployed = false;
        bool? conserved = null;
        var tenants = new List<TenantStatus>();
        try
        {
            block = (long)(await rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync(), ct)).Value;
            deployed = await rpc.CallAsync(web3 => web3.Eth.GetCode.SendRequestAsync(devnet.EscrowAddress), ct) is { Length: > 2 };
            if (deployed)
            {
                var escrow = new EscrowClient(rpc, devnet.EscrowAddress, devnet.CreditAddress);
                conserved = (await escrow.GetBalanceSheetAsync(ct)).Balances;
                foreach (var wallet in context.Devnet.ReadWallets())
                    tenants.Add(new TenantStatus(wallet.Name, wallet.Address, await escrow.Credit.BalanceOfAsync(wallet.Address, ct)));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Chain down: reported as unreachable. Gone before it told whether the escrow has code: unreachable too, as a
            // block number alone would have the contracts reported missing.
            if (!deployed) block = null;
        }
        // The chain could not say what the wallets hold; which wallets the devnet has, its files still say.
        if (tenants.Count == 0)
            tenants.AddRange(context.Devnet.ReadWallets().Select(wallet => new TenantStatus(wallet.Name, wallet.Address, null)));
        var hosts = new List<HostStatus>();
        // The processes `occ devnet up` started, so an operator can find a host's log or stop it (absent for a host run by hand).
        var started = DevnetGuard.StartedHosts(context.Devnet);
        // --api names the one host to report on; else every host of the devnet.
        foreach (var url in context.HostUrls.Select(u => u.ToString().TrimEnd('/')))
        {
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(5) };
            var api = new MarketApiClient(http);
            var up = await api.IsHealthyAsync(ct);
            bool? readsChain = null;
            if (up)
            {
                try
                {
                    readsChain = (await api.GetChainAsync(ct)).GetProperty("watchingHere").GetBoolean();
                }
                catch (Exception) when (!ct.IsCancellationRequested)
                {
                    // The host is up but cannot read the chain now: reported as unknown.
                }
            }
            var process = started.FirstOrDefault(h => string.Equals(h.Url.TrimEnd('/'), url, StringComparison.OrdinalIgnoreCase));
            // A dead host's log is the one to read; its pid is gone (and may be another program's by now).
            hosts.Add(new HostStatus(url, up, readsChain, process is not null && DevnetGuard.IsHostProcess(process.ProcessId) ? process.ProcessId : null, process?.LogPath));
        }
        return new DevnetStatus(block, block is null ? null : deployed, hosts, conserved, tenants);
    }
}

/// <summary>
/// A host of the devnet: whether it answers, whether it is the one that reads the chain (null: unknown), the process
/// `occ devnet up` started it as while that process runs, and its log (null for a host `devnet up` did not start).
/// </summary>
public sealed record HostStatus(string Url, bool Up, bool? ReadsChain, int? ProcessId = null, string? LogPath = null);

public sealed record TenantStatus(string Name, string Address, Abstractions.Credits? Credits);
