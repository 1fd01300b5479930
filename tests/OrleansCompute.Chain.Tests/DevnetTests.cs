using Nethereum.Signer;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Tests.Fixtures;
using Xunit;

namespace OrleansCompute.Chain.Tests;

[Collection(ChainCollection.Name)]
public sealed class DevAccountsOnChainTests(ChainFixture chain)
{
    [Fact]
    public async Task The_dev_accounts_are_anvils_funded_accounts_in_order()
    {
        var accounts = await chain.Rpc.CallAsync(web3 => web3.Eth.Accounts.SendRequestAsync());

        Assert.Equal(DevAccounts.All.Select(a => a.Address.ToLowerInvariant()), accounts.Select(a => a.ToLowerInvariant()));
    }
}

public sealed class DevAccountsTests
{
    [Fact]
    public void Each_private_key_controls_its_checksummed_address()
    {
        Assert.All(DevAccounts.All, account => Assert.Equal(account.Address, new EthECKey(account.PrivateKey).GetPublicAddress()));
    }

    [Fact]
    public void Roles_do_not_overlap()
    {
        var roles = new[] { DevAccounts.Deployer, DevAccounts.Operator }.Concat(DevAccounts.Providers).Concat(DevAccounts.Tenants).ToArray();

        Assert.Equal(10, roles.Distinct().Count());
    }
}

public sealed class FoundryToolchainTests
{
    [Fact]
    public void The_repository_root_is_found_from_the_test_output_folder()
    {
        var toolchain = FoundryToolchain.Locate(AppContext.BaseDirectory);

        Assert.True(File.Exists(Path.Combine(toolchain.RepositoryRoot, FoundryToolchain.SolutionFile)));
        Assert.EndsWith(Path.Combine("@foundry-rs", "anvil-linux-amd64", "bin", "anvil"), toolchain.AnvilPath);
    }

    [Fact]
    public void A_folder_outside_the_repository_has_no_root()
    {
        if (Environment.GetEnvironmentVariable(FoundryToolchain.HomeVariable) is not null) return;

        Assert.Throws<DirectoryNotFoundException>(() => FoundryToolchain.FindRepositoryRoot(Path.GetTempPath()));
    }
}
