using System.Numerics;
using Nethereum.Hex.HexTypes;
using OrleansCompute.Chain.Rpc;

namespace OrleansCompute.Chain.Devnet;

/// <summary>Anvil's test-only RPC methods: move the chain's clock, mine blocks, reorganize, go back to a snapshot. Only for a local devnet.</summary>
public sealed class AnvilCheats(ChainRpc rpc)
{
    /// <summary>Moves the clock forward and mines a block, so the next transaction sees the new time.</summary>
    public async Task IncreaseTimeAsync(TimeSpan by, CancellationToken cancellationToken = default)
    {
        await rpc.CallAsync(web3 => web3.Client.SendRequestAsync<object>("evm_increaseTime", null, (long)by.TotalSeconds), cancellationToken);
        await MineAsync(cancellationToken);
    }

    /// <summary>With automine off, transactions wait in the pool until <see cref="MineAsync"/>.</summary>
    public Task SetAutomineAsync(bool enabled, CancellationToken cancellationToken = default) =>
        rpc.CallAsync(web3 => web3.Client.SendRequestAsync<object>("evm_setAutomine", null, enabled), cancellationToken);

    public Task MineAsync(CancellationToken cancellationToken = default) =>
        rpc.CallAsync(web3 => web3.Client.SendRequestAsync<object>("evm_mine", null), cancellationToken);

    /// <summary>
    /// Replaces the latest <paramref name="depth"/> blocks with new empty ones at the same heights (<c>anvil_reorg</c>):
    /// the transactions they held are dropped, not mined again.
    /// </summary>
    public Task ReorgAsync(int depth, CancellationToken cancellationToken = default) =>
        rpc.CallAsync(web3 => web3.Client.SendRequestAsync<object>("anvil_reorg", null, depth, Array.Empty<object>()), cancellationToken);

    /// <summary>Takes a snapshot of the chain's state (<c>evm_snapshot</c>) for <see cref="RevertAsync"/>.</summary>
    public Task<string> SnapshotAsync(CancellationToken cancellationToken = default) =>
        rpc.CallAsync(web3 => web3.Client.SendRequestAsync<string>("evm_snapshot", null), cancellationToken);

    /// <summary>
    /// Puts the chain back to <paramref name="snapshot"/> (<c>evm_revert</c>): the blocks after it are gone, as after a
    /// restart from an older state file.
    /// </summary>
    public Task RevertAsync(string snapshot, CancellationToken cancellationToken = default) =>
        rpc.CallAsync(web3 => web3.Client.SendRequestAsync<bool>("evm_revert", null, snapshot), cancellationToken);

    /// <summary>Empties the pool of pending transactions (<c>anvil_dropAllTransactions</c>), as a node restarted without its pool.</summary>
    public Task DropAllTransactionsAsync(CancellationToken cancellationToken = default) =>
        rpc.CallAsync(web3 => web3.Client.SendRequestAsync<object>("anvil_dropAllTransactions", null), cancellationToken);

    /// <summary>The latest block's timestamp: "now" as the contracts see it, which differs from the wall clock once time was moved.</summary>
    public Task<DateTimeOffset> GetChainTimeAsync(CancellationToken cancellationToken = default) => rpc.GetLatestBlockTimeAsync(cancellationToken);

    /// <summary>
    /// The base fee of the next block mined (<c>anvil_setNextBlockBaseFeePerGas</c>): a rise past a pending transaction's max
    /// fee has Anvil drop it from its pool when it mines that block.
    /// </summary>
    public Task SetNextBlockBaseFeeAsync(BigInteger weiPerGas, CancellationToken cancellationToken = default) =>
        rpc.CallAsync(web3 => web3.Client.SendRequestAsync<object>("anvil_setNextBlockBaseFeePerGas", null, new HexBigInteger(weiPerGas).HexValue), cancellationToken);

    public Task SetBalanceAsync(string address, BigInteger wei, CancellationToken cancellationToken = default) =>
        rpc.CallAsync(web3 => web3.Client.SendRequestAsync<object>("anvil_setBalance", null, address, new HexBigInteger(wei).HexValue), cancellationToken);
}
