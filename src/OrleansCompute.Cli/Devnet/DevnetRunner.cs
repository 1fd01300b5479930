using System.Numerics;
using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Deployment;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Cli.Api;

namespace OrleansCompute.Cli.Devnet;

/// <summary>
/// <c>occ devnet up</c>: chain tools, Anvil with its state in <c>.devnet/</c>, the contracts (deployed once, reused after),
/// funded tenant wallets, and the market hosts (one by default); then it keeps Anvil running (see <see cref="SupervisedAnvil"/>)
/// until Ctrl+C and stops everything cleanly.
/// </summary>
public sealed class DevnetRunner(CliContext context)
{
    public static readonly Credits TenantGrant = Credits.FromCredits(10_000m);

    /// <summary>Gas money for a host's own operator key: plenty for a devnet's settlements.</summary>
    private static readonly BigInteger HostGasGrant = BigInteger.Pow(10, 22);

    /// <param name="hosts">
    /// How many hosts to start, on <paramref name="apiPort"/> and the ports after it: one Orleans cluster (a fresh cluster
    /// id each run, so silos of an earlier run are never waited for) sharing the store in <c>.devnet/market.db</c>.
    /// </param>
    public async Task UpAsync(bool fresh, int chainPort, int apiPort, int hosts, Func<DevnetConfig, Task> ready, CancellationToken ct)
    {
        if (hosts < 1) throw new CliException("--hosts must be at least 1.");
        var files = context.Devnet;
        // First of all: --fresh would delete a running devnet's files, and the toolchain step takes a while to get nowhere.
        DevnetGuard.EnsureNoneRunning(files, chainPort, apiPort, hosts);
        if (fresh && Directory.Exists(files.Directory)) Directory.Delete(files.Directory, recursive: true);
        Directory.CreateDirectory(files.Directory);

        Say("checking the chain tools (npm ci and forge build on first run)…");
        var toolchain = new FoundryToolchain(context.RepositoryRoot);
        await toolchain.EnsureBuiltAsync(ct);

        Say($"starting anvil on 127.0.0.1:{chainPort} (state in {files.AnvilStatePath})…");
        await using var anvil = await SupervisedAnvil.StartAsync(token => StartAnvilAsync(toolchain, files, chainPort, token), Say, ct);
        var devnet = await EnsureContractsAsync(toolchain, files, anvil.RpcUrl, $"http://127.0.0.1:{apiPort}", ct);
        devnet = devnet with { HostUrls = Enumerable.Range(apiPort, hosts).Select(port => $"http://127.0.0.1:{port}").ToList() };
        files.WriteConfig(devnet);

        var clusterId = $"devnet-{DateTimeOffset.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid().ToString("N")[..6]}";
        var running = new List<HostProcess>();
        try
        {
            for (var i = 0; i < hosts; i++)
            {
                var (url, log) = (devnet.AllHostUrls[i], files.HostLogPathOf(i));
                Say(i == 0
                    ? $"starting the market host on {url} (state in {files.MarketStorePath}, log in {log})…"
                    : $"starting host {i + 1} on {url}, joining the first one's cluster (log in {log})…");
                running.Add(HostProcess.Start(context.RepositoryRoot, devnet, url, files.MarketStorePath, log, clusterId,
                    await OperatorKeyOfAsync(i, devnet, ct), seedDemo: i == 0));
                files.WriteHosts(running.Select((host, j) => new RunningHost(devnet.AllHostUrls[j], host.ProcessId, files.HostLogPathOf(j))).ToList());
                await WaitForHostAsync(running[i], url, log, ct);
            }
            await ready(devnet);
            ReportExits(running, devnet, files, ct);
            await anvil.KeepRunningAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Say(hosts == 1 ? "stopping the host and anvil (anvil writes its state)…" : "stopping the hosts and anvil (anvil writes its state)…");
        }
        finally
        {
            // The last started first: the first host seeded the market and is the one commands talk to.
            for (var i = running.Count - 1; i >= 0; i--) await running[i].DisposeAsync();
        }
    }

    /// <summary>
    /// Says so when a host exits while the devnet runs (killed, crashed), naming its log: the other hosts go on serving the
    /// market, but nothing else would tell the operator that one is gone.
    /// </summary>
    private void ReportExits(IReadOnlyList<HostProcess> hosts, DevnetConfig devnet, DevnetFiles files, CancellationToken ct)
    {
        for (var i = 0; i < hosts.Count; i++)
        {
            var (host, url, log) = (hosts[i], devnet.AllHostUrls[i], files.HostLogPathOf(i));
            _ = host.ExitAsync(ct).ContinueWith(exit =>
            {
                if (!exit.IsCompletedSuccessfully || ct.IsCancellationRequested) return;
                Say(hosts.Count > 1
                    ? $"host {url} exited (code {exit.Result}); the other hosts go on. Its log: {log}"
                    : $"the host {url} exited (code {exit.Result}); the market is down until `./occ devnet up` again. Its log: {log}");
            }, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// The first host settles with Anvil's operator account (named a settler at deployment); each further host gets a key
    /// of its own, so that every key's nonces have one owner, which the escrow's owner (the deployer) names a settler too,
    /// so that it may submit final vouchers.
    /// </summary>
    private static async Task<string> OperatorKeyOfAsync(int host, DevnetConfig devnet, CancellationToken ct)
    {
        if (host == 0) return DevAccounts.Operator.PrivateKey;
        var key = Nethereum.Signer.EthECKey.GenerateKey();
        var rpc = new ChainRpc(devnet.RpcUrl);
        await new AnvilCheats(rpc).SetBalanceAsync(key.GetPublicAddress(), HostGasGrant, ct);
        using var owner = new TransactionSender(rpc, DevAccounts.Deployer.PrivateKey, devnet.ChainId);
        await new EscrowClient(rpc, devnet.EscrowAddress, devnet.CreditAddress).SetSettlerAsync(owner, key.GetPublicAddress(), cancellationToken: ct);
        return key.GetPrivateKey();
    }

    private static async Task<AnvilProcess> StartAnvilAsync(FoundryToolchain toolchain, DevnetFiles files, int port, CancellationToken ct)
    {
        try
        {
            return await AnvilProcess.StartAsync(toolchain.AnvilPath,
                new AnvilOptions { Port = port, StatePath = files.AnvilStatePath, StateIntervalSeconds = 5 }, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new CliException($"anvil did not start on port {port}: {e.Message}. Is a devnet already running (occ devnet status)?");
        }
    }

    /// <summary>
    /// Reuses the contracts recorded in devnet.json when the chain still has them and the escrow is the version this
    /// build speaks; otherwise deploys and funds tenants.
    /// </summary>
    private async Task<DevnetConfig> EnsureContractsAsync(FoundryToolchain toolchain, DevnetFiles files, string rpcUrl, string apiUrl, CancellationToken ct)
    {
        var rpc = new ChainRpc(rpcUrl);
        if (files.ReadConfig() is { } known && await HasCodeAsync(rpc, known.EscrowAddress, ct))
        {
            // A checkout updated past an escrow change (its EIP-712 version moves with its ABI) cannot use the old one.
            var version = await EscrowVersionAsync(rpc, known, ct);
            if (version == VoucherSigner.DomainVersion)
            {
                Say($"reusing the contracts deployed at block {known.DeployBlock}: escrow {known.EscrowAddress}");
                var reused = known with { RpcUrl = rpcUrl, ApiUrl = apiUrl };
                files.WriteConfig(reused);
                return reused;
            }
            Say($"the escrow at {known.EscrowAddress} is version {version ?? "unknown"}; this build speaks version {VoucherSigner.DomainVersion}");
        }

        // New contracts mean a new ledger: market state kept for the old ones would describe leases that do not exist.
        foreach (var file in new[] { files.MarketStorePath, files.MarketStorePath + "-wal", files.MarketStorePath + "-shm" })
            File.Delete(file);
        Say("deploying ComputeCredit and LeaseEscrow…");
        var chainId = (long)(await rpc.CallAsync(web3 => web3.Eth.ChainId.SendRequestAsync(), ct)).Value;
        using var deployer = new TransactionSender(rpc, DevAccounts.Deployer.PrivateKey, chainId);
        var deployed = await ContractDeployer.DeployAsync(deployer, toolchain.OutDirectory, deployer.Address,
            new EscrowSettings { Settlers = [DevAccounts.Operator.Address] }, ct);
        var credit = new ComputeCreditClient(rpc, deployed.CreditAddress);

        var wallets = DevWallets.Tenants;
        foreach (var wallet in wallets) await credit.MintAsync(deployer, wallet.Address, TenantGrant, ct);
        files.WriteWallets(wallets);
        files.WriteProviderWallets(DevWallets.Providers);

        var devnet = new DevnetConfig(rpcUrl, chainId, deployed.CreditAddress, deployed.EscrowAddress, deployed.DeployBlock, apiUrl);
        files.WriteConfig(devnet);
        Say($"deployed: credit {deployed.CreditAddress}, escrow {deployed.EscrowAddress}; {wallets.Count} tenants funded with {TenantGrant} credits each");
        return devnet;
    }

    /// <summary>The escrow's EIP-712 domain version (ERC-5267), or null when it does not answer the call.</summary>
    private static async Task<string?> EscrowVersionAsync(ChainRpc rpc, DevnetConfig devnet, CancellationToken ct)
    {
        try
        {
            return (await new EscrowClient(rpc, devnet.EscrowAddress, devnet.CreditAddress).GetEip712DomainAsync(ct)).Version;
        }
        catch (Exception e) when (e is ChainRevertException or Nethereum.JsonRpc.Client.RpcResponseException)
        {
            return null;
        }
    }

    private static async Task<bool> HasCodeAsync(ChainRpc rpc, string address, CancellationToken ct)
    {
        var code = await rpc.CallAsync(web3 => web3.Eth.GetCode.SendRequestAsync(address), ct);
        return code is { Length: > 2 };
    }

    private static async Task WaitForHostAsync(HostProcess host, string apiUrl, string logPath, CancellationToken ct)
    {
        var api = new MarketApiClient(new HttpClient { BaseAddress = new Uri(apiUrl) });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!await api.IsHealthyAsync(ct))
        {
            if (host.HasExited || DateTime.UtcNow > deadline)
            {
                host.Kill();
                var tail = File.Exists(logPath) ? string.Join('\n', File.ReadLines(logPath).TakeLast(30)) : "";
                throw new CliException($"the host did not come up at {apiUrl}. Last lines of {logPath}:\n{tail}");
            }
            await Task.Delay(250, ct);
        }
        // A host is healthy once it has seeded the demo pools: the first `occ offers` shows them all.
    }

    private void Say(string message) => context.Error.WriteLine($"devnet: {message}");
}
