using Nethereum.Hex.HexTypes;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>A chain of its own (not the shared fixture's): it is stopped and started again.</summary>
public sealed class AnvilProcessTests
{
    [Fact]
    public async Task A_chain_started_with_a_state_file_keeps_its_state_across_a_restart()
    {
        var toolchain = FoundryToolchain.Locate(AppContext.BaseDirectory);
        await toolchain.EnsureBuiltAsync();
        var directory = Directory.CreateTempSubdirectory("occ-anvil-");
        try
        {
            var options = new AnvilOptions { StatePath = Path.Combine(directory.FullName, "state.json") };
            string recipient = DevAccounts.Tenants[0].Address;
            HexBigInteger balanceBefore;
            long blockBefore;
            await using (var anvil = await AnvilProcess.StartAsync(toolchain.AnvilPath, options))
            {
                var rpc = new ChainRpc(anvil.RpcUrl);
                using var sender = new TransactionSender(rpc, DevAccounts.Deployer.PrivateKey, 31337);
                await sender.SendTransactionAsync(recipient, "0x", 12345);
                balanceBefore = await rpc.CallAsync(web3 => web3.Eth.GetBalance.SendRequestAsync(recipient));
                blockBefore = (long)(await rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync())).Value;
                await anvil.StopAsync();
                Assert.True(anvil.HasExited);
            }
            Assert.True(File.Exists(options.StatePath));

            await using (var restarted = await AnvilProcess.StartAsync(toolchain.AnvilPath, options))
            {
                var rpc = new ChainRpc(restarted.RpcUrl);
                Assert.Equal(balanceBefore.Value, (await rpc.CallAsync(web3 => web3.Eth.GetBalance.SendRequestAsync(recipient))).Value);
                Assert.Equal(blockBefore, (long)(await rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync())).Value);
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
