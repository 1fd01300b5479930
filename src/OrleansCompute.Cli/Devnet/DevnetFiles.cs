using System.Text.Json;
using OrleansCompute.Abstractions;

namespace OrleansCompute.Cli.Devnet;

/// <summary>
/// What a devnet keeps in <c>.devnet/</c>: where its chain and hosts are and which contracts it deployed. <see cref="ApiUrl"/>
/// is the first host, the one every command talks to by default; <see cref="HostUrls"/> lists them all (null: just it).
/// </summary>
public sealed record DevnetConfig(
    string RpcUrl,
    long ChainId,
    string CreditAddress,
    string EscrowAddress,
    long DeployBlock,
    string ApiUrl,
    IReadOnlyList<string>? HostUrls = null)
{
    public IReadOnlyList<string> AllHostUrls => HostUrls is { Count: > 0 } hosts ? hosts : [ApiUrl];
}

/// <summary>A host that <c>occ devnet up</c> started: where it answers, its process, its log.</summary>
public sealed record RunningHost(string Url, int ProcessId, string LogPath);

/// <summary>A wallet the CLI signs for (a tenant's, or on the devnet a provider's). On the devnet these are Anvil's dev accounts.</summary>
public sealed record TenantWallet(string Name, string Address, string PrivateKey);

/// <summary>A key that signs one lease's vouchers in place of the tenant's wallet key (named in the escrow when it is opened).</summary>
public sealed record SessionKey(Guid LeaseId, string Address, string PrivateKey);

/// <summary>The files of a devnet (by default <c>.devnet/</c> in the checkout) and how they are read and written.</summary>
public sealed class DevnetFiles(string directory)
{
    public string Directory { get; } = directory;
    public string ConfigPath => Path.Combine(Directory, "devnet.json");
    public string WalletsPath => Path.Combine(Directory, "wallets.json");
    /// <summary>The demo providers' payout wallets: they sign provider operations (define, drain).</summary>
    public string ProviderWalletsPath => Path.Combine(Directory, "providers.json");
    public string AnvilStatePath => Path.Combine(Directory, "anvil-state.json");
    public string HostLogPath => Path.Combine(Directory, "host.log");

    /// <summary>The log of host <paramref name="index"/> (0 is the first, <see cref="HostLogPath"/>).</summary>
    public string HostLogPathOf(int index) => index == 0 ? HostLogPath : Path.Combine(Directory, $"host-{index + 1}.log");
    /// <summary>The host's grain state and reminders (SQLite).</summary>
    public string MarketStorePath => Path.Combine(Directory, "market.db");

    /// <summary>The hosts the running devnet started (rewritten by each <c>occ devnet up</c>).</summary>
    public string HostsPath => Path.Combine(Directory, "hosts.json");

    public DevnetConfig? ReadConfig() => Read<DevnetConfig>(ConfigPath);

    public IReadOnlyList<RunningHost> ReadHosts() => Read<List<RunningHost>>(HostsPath) ?? [];

    public void WriteHosts(IReadOnlyList<RunningHost> hosts) => Write(HostsPath, hosts);

    public void WriteConfig(DevnetConfig config) => Write(ConfigPath, config);

    public IReadOnlyList<TenantWallet> ReadWallets() => Read<List<TenantWallet>>(WalletsPath) ?? [];

    public void WriteWallets(IReadOnlyList<TenantWallet> wallets) => Write(WalletsPath, wallets);

    public IReadOnlyList<TenantWallet> ReadProviderWallets() => Read<List<TenantWallet>>(ProviderWalletsPath) ?? [];

    public void WriteProviderWallets(IReadOnlyList<TenantWallet> wallets) => Write(ProviderWalletsPath, wallets);

    /// <summary>Session keys the CLI made for leases (one file per lease), next to the tenant wallets they stand in for.</summary>
    public string SessionKeysDirectory => Path.Combine(Directory, "session-keys");

    public SessionKey? ReadSessionKey(Guid leaseId) => Read<SessionKey>(SessionKeyPath(leaseId));

    public void WriteSessionKey(SessionKey key) => Write(SessionKeyPath(key.LeaseId), key);

    private string SessionKeyPath(Guid leaseId) => Path.Combine(SessionKeysDirectory, $"{leaseId:N}.json");

    private static T? Read<T>(string path) =>
        File.Exists(path) ? JsonSerializer.Deserialize<T>(File.ReadAllText(path), ApiJson.Options) : default;

    private void Write<T>(string path, T value)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, JsonSerializer.Serialize(value, new JsonSerializerOptions(ApiJson.Options) { WriteIndented = true }));
    }
}
