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
    public void Contracts_need_a_build_when_an_artifact_is_missing_or_older_than_a_source()
    {
        var root = Directory.CreateTempSubdirectory("occ-toolchain-");
        try
        {
            var toolchain = new FoundryToolchain(root.FullName);
            var source = Path.Combine(toolchain.SourceDirectory, "LeaseEscrow.sol");
            Directory.CreateDirectory(toolchain.SourceDirectory);
            File.WriteAllText(source, "contract LeaseEscrow {}");
            Assert.True(toolchain.NeedsBuild());

            foreach (var name in new[] { "ComputeCredit", "LeaseEscrow" })
            {
                var artifact = Path.Combine(toolchain.OutDirectory, $"{name}.sol", $"{name}.json");
                Directory.CreateDirectory(Path.GetDirectoryName(artifact)!);
                File.WriteAllText(artifact, "{}");
            }
            File.SetLastWriteTimeUtc(source, DateTime.UtcNow.AddMinutes(-5));
            Assert.False(toolchain.NeedsBuild());

            File.SetLastWriteTimeUtc(source, DateTime.UtcNow.AddMinutes(5));
            Assert.True(toolchain.NeedsBuild());
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_folder_outside_the_repository_has_no_root()
    {
        if (Environment.GetEnvironmentVariable(FoundryToolchain.HomeVariable) is not null) return;

        Assert.Throws<DirectoryNotFoundException>(() => FoundryToolchain.FindRepositoryRoot(Path.GetTempPath()));
    }
}
