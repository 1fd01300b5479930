using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Deployment;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Cli;
using OrleansCompute.Cli.Api;
using OrleansCompute.Cli.Devnet;
using OrleansCompute.Host;
using Xunit;

namespace OrleansCompute.Integration.Tests.Infrastructure;

/// <summary>
/// The whole market for real: Anvil with freshly deployed contracts, the host (silo + HTTP on a loopback port)
/// in this process, funded tenant wallets in a devnet folder of its own, and occ run in-process against it.
/// </summary>
public class MarketFixture : IAsyncLifetime
{
    public static readonly Credits TenantGrant = Credits.FromCredits(1_000m);

    /// <summary>Long enough for occ to fund a lease, short enough for a test to watch a reservation expire.</summary>
    public static readonly TimeSpan FundingWindow = TimeSpan.FromSeconds(20);

    private WebApplication? _host;
    private string[] _hostArgs = [];

    public AnvilProcess Anvil { get; private set; } = null!;

    /// <summary>Every chain client here (host, occ, the test's own) reaches Anvil through this proxy, which can inject faults.</summary>
    public RpcFaultProxy Rpc { get; private set; } = null!;
    public FoundryToolchain Toolchain { get; private set; } = null!;
    public DevnetConfig Devnet { get; private set; } = null!;
    public string DevnetDirectory { get; } = Path.Combine(Path.GetTempPath(), "occ-it-" + Guid.NewGuid().ToString("N"));
    public EscrowClient Escrow { get; private set; } = null!;

    /// <summary>The inference server behind two demo pools: H200 (reports usage) and MI300X (does not).</summary>
    public FakeUpstream Upstream { get; private set; } = null!;

    public const string UpstreamPoolWithUsage = "gpu-hub/h200-euw1", UpstreamPoolWithoutUsage = "helios/mi300x-usw2";

    /// <summary>How long the host waits for its upstream to begin an answer: short, so that a test of a hung server is quick.</summary>
    public static readonly TimeSpan UpstreamTimeout = TimeSpan.FromSeconds(3);
    public IReadOnlyList<TenantWallet> Wallets { get; private set; } = [];

    /// <summary>A tenant wallet that holds no credits.</summary>
    public TenantWallet BrokeTenant => Wallets[^1];

    public MarketApiClient Api => new(new HttpClient { BaseAddress = new Uri(Devnet.ApiUrl) });

    public async Task InitializeAsync()
    {
        Toolchain = FoundryToolchain.Locate();
        await Toolchain.EnsureBuiltAsync();
        Anvil = await AnvilProcess.StartAsync(Toolchain.AnvilPath, AnvilOptions);
        Rpc = await RpcFaultProxy.StartAsync(Anvil.RpcUrl);

        var rpc = new ChainRpc(Rpc.Url);
        using var deployer = new TransactionSender(rpc, DevAccounts.Deployer.PrivateKey, 31337);
        var deployed = await ContractDeployer.DeployAsync(deployer, Toolchain.OutDirectory, deployer.Address,
            new EscrowSettings { Settlers = [DevAccounts.Operator.Address] });
        Escrow = new EscrowClient(rpc, deployed.EscrowAddress, deployed.CreditAddress);

        Wallets = DevWallets.Tenants;
        foreach (var wallet in Wallets.SkipLast(1)) await Escrow.Credit.MintAsync(deployer, wallet.Address, TenantGrant);

        Devnet = WriteDevnetFiles(DevnetDirectory, new DevnetConfig(Rpc.Url, 31337, deployed.CreditAddress, deployed.EscrowAddress,
            deployed.DeployBlock, $"http://127.0.0.1:{LoopbackPorts.Free()}"), Wallets);

        Upstream = await FakeUpstream.StartAsync();
        _hostArgs =
        [
            .. HostArguments(Devnet, DevnetDirectory),
            $"--Gateway:Upstreams:0:Pool={UpstreamPoolWithUsage}",
            $"--Gateway:Upstreams:0:Url={Upstream.Url}/usage/v1",
            $"--Gateway:Upstreams:0:Model={FakeUpstream.Model}",
            $"--Gateway:Upstreams:0:ApiKey={FakeUpstream.ApiKey}",
            $"--Gateway:Upstreams:1:Pool={UpstreamPoolWithoutUsage}",
            $"--Gateway:Upstreams:1:Url={Upstream.Url}/nousage/v1",
            $"--Gateway:Upstreams:1:Model={FakeUpstream.Model}",
            $"--Gateway:Upstreams:1:ApiKey={FakeUpstream.ApiKey}",
            $"--Gateway:UpstreamTimeout={UpstreamTimeout}",
            "--Logging:LogLevel:Default=Warning",
            .. ExtraHostArguments,
        ];
        _host = MarketHost.Build(_hostArgs);
        await _host.StartAsync();
        await WaitForOffersAsync();
    }

    /// <summary>The devnet folder occ reads (the chain and contracts, the tenants' and providers' wallets); the config, as written.</summary>
    public static DevnetConfig WriteDevnetFiles(string directory, DevnetConfig devnet, IReadOnlyList<TenantWallet> wallets)
    {
        var files = new DevnetFiles(directory);
        files.WriteConfig(devnet);
        files.WriteWallets(wallets);
        files.WriteProviderWallets(DevWallets.Providers);
        return devnet;
    }

    /// <summary>
    /// What every test market's host is told, in process or as a process of its own: the chain and contracts of
    /// <paramref name="devnet"/>, its operator key, a quick watcher, free ports, its store in <paramref name="directory"/>
    /// and the demo pools.
    /// </summary>
    public static IEnumerable<string> HostArguments(DevnetConfig devnet, string directory) =>
    [
        "--urls", devnet.ApiUrl,
        $"--Chain:RpcUrl={devnet.RpcUrl}",
        $"--Chain:ChainId={devnet.ChainId}",
        $"--Chain:CreditAddress={devnet.CreditAddress}",
        $"--Chain:EscrowAddress={devnet.EscrowAddress}",
        $"--Chain:DeployBlock={devnet.DeployBlock}",
        $"--Chain:OperatorPrivateKey={DevAccounts.Operator.PrivateKey}",
        "--Chain:EventPollInterval=00:00:00.200",
        $"--Market:FundingWindow={FundingWindow}",
        $"--Orleans:SiloPort={LoopbackPorts.Free()}",
        $"--Orleans:GatewayPort={LoopbackPorts.Free()}",
        $"--Storage:Path={Path.Combine(directory, "market.db")}",
        "--Devnet:SeedDemo=true",
    ];

    /// <summary>Host settings a collection's own market needs on top of the usual ones.</summary>
    protected virtual IEnumerable<string> ExtraHostArguments => [];

    /// <summary>The running host's services (its chain watcher, say).</summary>
    public IServiceProvider HostServices => _host!.Services;

    /// <summary>Anvil keeps its chain in this file when it stops, and loads it when it starts again.</summary>
    private AnvilOptions AnvilOptions => new() { StatePath = Path.Combine(DevnetDirectory, "anvil-state.json") };

    /// <summary>Stops Anvil (it writes its state file) and starts a new one from that file behind the same proxy address.</summary>
    public async Task RestartAnvilAsync(TimeSpan downFor)
    {
        await Anvil.StopAsync();
        await Anvil.DisposeAsync();
        await Task.Delay(downFor);
        Anvil = await AnvilProcess.StartAsync(Toolchain.AnvilPath, AnvilOptions);
        Rpc.Target = Anvil.RpcUrl;
    }

    /// <summary>Stops the host and starts a new one on the same SQLite file, chain and ports: what a host restart does.</summary>
    public async Task RestartHostAsync()
    {
        await _host!.StopAsync();
        await _host.DisposeAsync();
        _host = MarketHost.Build(_hostArgs);
        await _host.StartAsync();
        await WaitForOffersAsync();
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            await _host.DisposeAsync();
        }
        await Anvil.DisposeAsync();
        if (Upstream is not null) await Upstream.DisposeAsync();
        if (Rpc is not null) await Rpc.DisposeAsync();
        if (Directory.Exists(DevnetDirectory)) Directory.Delete(DevnetDirectory, recursive: true);
    }

    /// <summary>Runs <c>occ</c> in this process against this market, as a user would from the shell.</summary>
    public async Task<OccResult> OccAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = await OccApp.RunAsync([.. args, "--api", Devnet.ApiUrl], output, error, DevnetDirectory);
        return new OccResult(exitCode, output.ToString(), error.ToString());
    }

    public async Task<int> FreeSlotsAsync(string poolKey) =>
        (await Api.GetOffersAsync(null, null, CancellationToken.None)).Single(o => o.PoolKey == poolKey).AvailableSlots;

    public async Task AssertConservedAsync()
    {
        var sheet = await Escrow.GetBalanceSheetAsync();
        Assert.True(sheet.Balances, $"escrow holds {sheet.TokenBalance}, held for tenants {sheet.TotalHeld} + owed {sheet.TotalOwed} + fees {sheet.FeesAccrued}");
    }

    /// <summary>The market's lease as the escrow stores it: on the signer and channel its LeaseOpened event named.</summary>
    public async Task<EscrowLease?> OnChainAsync(Guid leaseId)
    {
        var lease = await Api.GetLeaseAsync(LeaseIds.Format(leaseId), CancellationToken.None);
        return await Escrow.GetLeaseAsync(leaseId, lease.VoucherSigner ?? lease.Tenant, lease.Channel ?? 0);
    }

    /// <summary>What a tenant holds in all: its wallet and its balance in the escrow (where refunds go).</summary>
    public async Task<Credits> TenantHoldsAsync(string tenant) =>
        await Escrow.Credit.BalanceOfAsync(tenant) + await Escrow.GetTenantBalanceAsync(tenant);

    private async Task WaitForOffersAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await Api.GetOffersAsync(null, null, CancellationToken.None)).Count < DemoPoolCount)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The demo pools were not seeded.");
            await Task.Delay(100);
        }
    }

    private static int DemoPoolCount => Host.Devnet.DemoMarket.Pools.Count;
}

public sealed record OccResult(int ExitCode, string Output, string Error)
{
    public JsonElement Json => JsonDocument.Parse(Output).RootElement;

    public override string ToString() => $"exit {ExitCode}\nstdout: {Output}\nstderr: {Error}";
}

[CollectionDefinition(Name)]
public sealed class MarketCollection : ICollectionFixture<MarketFixture>
{
    public const string Name = "market";
}
