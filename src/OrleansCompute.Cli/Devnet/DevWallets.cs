using OrleansCompute.Chain.Devnet;

namespace OrleansCompute.Cli.Devnet;

/// <summary>The devnet's wallets, named as the CLI shows them: Anvil's tenant accounts (tenant1…) and provider accounts (provider1…).</summary>
public static class DevWallets
{
    public static IReadOnlyList<TenantWallet> Tenants { get; } = Named("tenant", DevAccounts.Tenants);

    public static IReadOnlyList<TenantWallet> Providers { get; } = Named("provider", DevAccounts.Providers);

    private static List<TenantWallet> Named(string prefix, IReadOnlyList<DevAccount> accounts) =>
        accounts.Select((account, i) => new TenantWallet($"{prefix}{i + 1}", account.Address, account.PrivateKey)).ToList();
}
