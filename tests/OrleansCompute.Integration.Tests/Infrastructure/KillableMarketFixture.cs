using System.Diagnostics;
using System.Numerics;
using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Deployment;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Cli;
using OrleansCompute.Cli.Api;
using OrleansCompute.Cli.Devnet;
using Xunit;

namespace OrleansCompute.Integration.Tests.Infrastructure;

/// <summary>
/// A market whose parts can be SIGKILLed: Anvil as a child process that dumps its state file only every
/// <see cref="StateIntervalSeconds"/> (so a kill loses the blocks mined since), and the host as a real
/// <c>dotnet OrleansCompute.Host.dll</c> process on a SQLite store (so a kill loses whatever it held in memory).
/// Both restart on the same port and files. Tenants and providers as in <see cref="MarketFixture"/>; occ runs in-process.
/// </summary>
public sealed class KillableMarketFixture : IAsyncLifetime
{
    /// <summary>Long enough that a test can end leases and settle them between two dumps, short enough to wait for one.</summary>
    public const int StateIntervalSeconds = 10;

    private Process? _host;
    private string[] _hostArgs = [];
    private int _hostStarts;

    public string DevnetDirectory { get; } = Path.Combine(Path.GetTempPath(), "occ-kill-" + Guid.NewGuid().ToString("N"));
    public FoundryToolchain Toolchain { get; private set; } = null!;
    public AnvilProcess Anvil { get; private set; } = null!;
    public DevnetConfig Devnet { get; private set; } = null!;
    public EscrowClient Escrow { get; private set; } = null!;
    public ChainRpc Rpc { get; private set; } = null!;
    public AnvilCheats Cheats => new(Rpc);
    public IReadOnlyList<TenantWallet> Wallets { get; private set; } = [];
    public string StatePath => Path.Combine(DevnetDirectory, "anvil-state.json");
    public string HostLogPath => Path.Combine(DevnetDirectory, "host.log");
    public int? HostProcessId => _host is { HasExited: false } host ? host.Id : null;
    public MarketApiClient Api => new(new HttpClient { BaseAddress = new Uri(Devnet.ApiUrl) });

    private static string Configuration => Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!);

    private AnvilOptions AnvilOptions(int port) => new() { Port = port, StatePath = StatePath, StateIntervalSeconds = StateIntervalSeconds };

    public async Task InitializeAsync()
    {
        Toolchain = FoundryToolchain.Locate();
        await Toolchain.EnsureBuiltAsync();
        Anvil = await AnvilProcess.StartAsync(Toolchain.AnvilPath, AnvilOptions(0));
        Rpc = new ChainRpc(Anvil.RpcUrl);

        using var deployer = new TransactionSender(Rpc, DevAccounts.Deployer.PrivateKey, 31337);
        var deployed = await ContractDeployer.DeployAsync(deployer, Toolchain.OutDirectory, deployer.Address,
            new EscrowSettings { Settlers = [DevAccounts.Operator.Address] });
        Escrow = new EscrowClient(Rpc, deployed.EscrowAddress, deployed.CreditAddress);
        Assert.Equal(0, await Escrow.GetFeeBpsAsync());

        Wallets = DevWallets.Tenants;
        foreach (var wallet in Wallets.SkipLast(1)) await Escrow.Credit.MintAsync(deployer, wallet.Address, MarketFixture.TenantGrant);

        Devnet = MarketFixture.WriteDevnetFiles(DevnetDirectory, new DevnetConfig(Anvil.RpcUrl, 31337, deployed.CreditAddress,
            deployed.EscrowAddress, deployed.DeployBlock, $"http://127.0.0.1:{LoopbackPorts.Free()}"), Wallets);

        _hostArgs =
        [
            .. MarketFixture.HostArguments(Devnet, DevnetDirectory),
            "--Logging:LogLevel:Default=Warning",
            // Each lease's moves and the watcher's reads in the host's log, which a failing test quotes.
            "--Logging:LogLevel:OrleansCompute.Grains.Leases=Information",
            "--Logging:LogLevel:OrleansCompute.Chain.Escrow=Information",
        ];
        await StartHostAsync();
    }

    /// <summary>Starts a host process on the fixture's store and ports, and waits until it serves the demo offers.</summary>
    public async Task StartHostAsync()
    {
        // The host built beside these tests, in their configuration (…/bin/Release/net10.0/).
        Assert.Null(HostProcessId);
        var hostDll = Path.Combine(Toolchain.RepositoryRoot, "src", "OrleansCompute.Host", "bin",
            Configuration, "net10.0", "OrleansCompute.Host.dll");
        Assert.True(File.Exists(hostDll), $"the host is not built at {hostDll}");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Path.GetDirectoryName(hostDll)!,
        };
        start.ArgumentList.Add(hostDll);
        foreach (var argument in _hostArgs) start.ArgumentList.Add(argument);
        var log = new StreamWriter(HostLogPath, append: true) { AutoFlush = true };
        var run = ++_hostStarts;
        log.WriteLine($"--- host start {run}");
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line) lock (log) log.WriteLine(line); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lock (log) log.WriteLine(line); };
        process.Exited += (_, _) => { lock (log) log.WriteLine($"--- host {run} exited"); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _host = process;

        var api = Api;
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            Assert.False(process.HasExited, $"the host exited: {HostLogTail()}");
            Assert.True(DateTime.UtcNow < deadline, $"the host did not come up: {HostLogTail()}");
            try
            {
                if ((await api.GetOffersAsync(null, null, CancellationToken.None)).Count >= OrleansCompute.Host.Devnet.DemoMarket.Pools.Count) return;
            }
            catch (Exception e) when (e is HttpRequestException or ApiException or TaskCanceledException)
            {
            }
            await Task.Delay(250);
        }
    }

    /// <summary>SIGKILL to the host process: no shutdown, no last write, its silo gone from one instant to the next.</summary>
    public async Task KillHostAsync()
    {
        var host = _host!;
        host.Kill();
        await host.WaitForExitAsync();
        host.Dispose();
        _host = null;
    }

    /// <summary>SIGKILL to Anvil: it writes nothing more, so the restarted chain is its last periodic state dump.</summary>
    public async Task KillAnvilAsync()
    {
        using (var anvil = Process.GetProcessById(Anvil.ProcessId))
        {
            anvil.Kill();
            await anvil.WaitForExitAsync();
        }
    }

    /// <summary>Starts Anvil again on the same port from its state file (the port may take a moment to be free again).</summary>
    public async Task StartAnvilAgainAsync()
    {
        var port = Anvil.Port;
        await Anvil.DisposeAsync();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Anvil = await AnvilProcess.StartAsync(Toolchain.AnvilPath, AnvilOptions(port));
                return;
            }
            catch (InvalidOperationException) when (attempt < 10)
            {
                await Task.Delay(500);
            }
        }
    }

    /// <summary>The newest block Anvil's state file holds, or null while it is missing or being written.</summary>
    public async Task<long?> StateFileBlockAsync()
    {
        try
        {
            using var state = JsonDocument.Parse(await File.ReadAllBytesAsync(StatePath));
            var number = state.RootElement.GetProperty("best_block_number");
            return number.ValueKind == JsonValueKind.String ? Convert.ToInt64(number.GetString(), 16) : number.GetInt64();
        }
        catch (Exception e) when (e is IOException or JsonException or KeyNotFoundException or FormatException)
        {
            return null;
        }
    }

    public async Task<long> HeadAsync() =>
        (long)(await Rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync())).Value;

    /// <summary>Transactions of the operator (the key that sends settlement batches) the node has taken but not mined.</summary>
    public async Task<BigInteger> OperatorPendingAsync()
    {
        var pending = await Rpc.CallAsync(web3 => web3.Eth.Transactions.GetTransactionCount.SendRequestAsync(
            DevAccounts.Operator.Address, Nethereum.RPC.Eth.DTOs.BlockParameter.CreatePending()));
        var mined = await Rpc.CallAsync(web3 => web3.Eth.Transactions.GetTransactionCount.SendRequestAsync(
            DevAccounts.Operator.Address, Nethereum.RPC.Eth.DTOs.BlockParameter.CreateLatest()));
        return pending.Value - mined.Value;
    }

    public async Task<OccResult> OccAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = await OccApp.RunAsync([.. args, "--api", Devnet.ApiUrl], output, error, DevnetDirectory);
        return new OccResult(exitCode, output.ToString(), error.ToString());
    }

    public string HostLogTail(int lines = 60)
    {
        try
        {
            using var stream = new FileStream(HostLogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException)
        {
            return "(no host log)";
        }
    }

    public async Task DisposeAsync()
    {
        if (_host is { } host)
        {
            if (!host.HasExited)
            {
                host.Kill();
                await host.WaitForExitAsync();
            }
            host.Dispose();
        }
        if (Anvil is not null) await Anvil.DisposeAsync();
        if (Directory.Exists(DevnetDirectory)) Directory.Delete(DevnetDirectory, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class KillCollection : ICollectionFixture<KillableMarketFixture>
{
    public const string Name = "kills";
}
