// The gateway bench's market: the real host (MarketHost: silo, HTTP API, gateway) on a real Anvil with the devnet's
// SQLite store and demo pools, and leases taken the way a tenant takes them, with occ (reserve, fund the escrow from the
// wallet, active once the host's chain watcher sees the funding), each with its lease key.
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Cli;
using OrleansCompute.Cli.Api;
using OrleansCompute.Cli.Devnet;
using OrleansCompute.Host;

namespace OrleansCompute.Bench;

/// <summary>An active lease and the key that calls the gateway on it.</summary>
public sealed record GatewayLease(Guid Id, int Slots, string ApiKey);

public sealed class GatewayMarket : IAsyncDisposable
{
    private readonly SettlementChain _chain;
    private readonly WebApplication _host;
    private readonly string _devnetDirectory;

    private GatewayMarket(SettlementChain chain, WebApplication host, string devnetDirectory, string apiUrl)
    {
        _chain = chain;
        _host = host;
        _devnetDirectory = devnetDirectory;
        ApiUrl = apiUrl;
    }

    public string ApiUrl { get; }

    public IGrainFactory Grains => _host.Services.GetRequiredService<IGrainFactory>();

    /// <summary>
    /// Anvil with the contracts deployed, the devnet's first tenant wallet funded with <paramref name="tenantCredits"/>, and
    /// the host started as the devnet starts it (its SQLite store, or the host's memory store; demo pools seeded), with the
    /// simulated accelerator unpaced.
    /// </summary>
    public static async Task<GatewayMarket> StartAsync(string dataDirectory, Credits tenantCredits, MarketStore store)
    {
        var chain = await SettlementChain.StartAsync(tenants: 0, leasesPerTenant: 0, transferSenders: 0, anvilArguments: []);
        var devnetDirectory = Path.Combine(dataDirectory, "devnet");
        Directory.CreateDirectory(devnetDirectory);
        var tenant = DevWallets.Tenants[0];
        await chain.MintAsync(tenant.Address, tenantCredits);

        var config = new DevnetConfig(chain.Rpc.RpcUrl, SettlementChain.ChainId, chain.Contracts.CreditAddress, chain.Contracts.EscrowAddress,
            chain.Contracts.DeployBlock, $"http://127.0.0.1:{LoopbackPorts.Free()}");
        var files = new DevnetFiles(devnetDirectory);
        files.WriteConfig(config);
        files.WriteWallets(DevWallets.Tenants);
        files.WriteProviderWallets(DevWallets.Providers);

        var host = MarketHost.Build(
        [
            "--urls", config.ApiUrl,
            $"--Chain:RpcUrl={config.RpcUrl}",
            $"--Chain:ChainId={config.ChainId}",
            $"--Chain:CreditAddress={config.CreditAddress}",
            $"--Chain:EscrowAddress={config.EscrowAddress}",
            $"--Chain:DeployBlock={config.DeployBlock}",
            $"--Chain:OperatorPrivateKey={DevAccounts.Operator.PrivateKey}",
            // Leases become active as soon as the watcher sees their escrow: the setup waits less.
            "--Chain:EventPollInterval=00:00:00.200",
            $"--Orleans:SiloPort={LoopbackPorts.Free()}",
            $"--Orleans:GatewayPort={LoopbackPorts.Free()}",
            // The devnet's store is SQLite; the other is the host's own memory.
            $"--Storage:Path={(store == MarketStore.Sqlite ? Path.Combine(devnetDirectory, "market.db") : MarketHost.StoreInMemory)}",
            "--Devnet:SeedDemo=true",
            // Simulated model time is not gateway overhead: both sides of the bench answer at once.
            "--Gateway:SimulatedPacing=false",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await host.StartAsync();
        var market = new GatewayMarket(chain, host, devnetDirectory, config.ApiUrl);
        await market.WaitForHealthAsync();
        return market;
    }

    /// <summary>
    /// <paramref name="count"/> leases of <paramref name="slots"/> <paramref name="kind"/> slots each for the first tenant,
    /// token-billed (what a tenant calling the gateway pays for), each made with occ and then asked for its key.
    /// </summary>
    public async Task<IReadOnlyList<GatewayLease>> LeaseAsync(int count, int slots, string kind, int hours)
    {
        var tenant = DevWallets.Tenants[0].Name;
        var leases = new List<GatewayLease>();
        var lastSecond = 0L;
        for (var i = 0; i < count; i++)
        {
            // occ signs a request with the second it is sent, and the host refuses the same signed request twice: two
            // identical lease requests in one second would be a replay.
            while (DateTimeOffset.UtcNow.ToUnixTimeSeconds() == lastSecond) await Task.Delay(50);
            lastSecond = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var created = await OccAsync("lease", "create", "--kind", kind, "--slots", $"{slots}", "--hours", $"{hours}", "--bill-by", "tokens",
                "--tenant", tenant, "--json");
            var lease = created.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!;
            if (lease.Status != LeaseStatus.Active) throw new InvalidOperationException($"Lease {LeaseIds.Format(lease.Id)} is {lease.Status}, not Active.");
            var key = await OccAsync("lease", "key", LeaseIds.Format(lease.Id), "--tenant", tenant, "--json");
            leases.Add(new GatewayLease(lease.Id, lease.Request.Slots, key.GetProperty("apiKey").GetString()!));
        }
        return leases;
    }

    /// <summary>The lease as its grain holds it (its metered usage, say).</summary>
    public async Task<LeaseSnapshot> GetLeaseAsync(Guid id) =>
        await Grains.GetGrain<ILeaseGrain>(id).GetAsync() ?? throw new InvalidOperationException($"No lease {LeaseIds.Format(id)}.");

    private async Task<JsonElement> OccAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = await OccApp.RunAsync([.. args, "--api", ApiUrl], output, error, _devnetDirectory);
        if (exitCode != 0) throw new InvalidOperationException($"occ {string.Join(' ', args)} failed ({exitCode}): {error}");
        return JsonDocument.Parse(output.ToString()).RootElement.Clone();
    }

    /// <summary>Until the demo pools are seeded (the host's /healthz says ok).</summary>
    private async Task WaitForHealthAsync()
    {
        var api = new MarketApiClient(new HttpClient { BaseAddress = new Uri(ApiUrl) });
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await api.IsHealthyAsync(CancellationToken.None))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The host did not seed its demo pools within a minute.");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        await _host.DisposeAsync();
        await _chain.DisposeAsync();
    }
}
