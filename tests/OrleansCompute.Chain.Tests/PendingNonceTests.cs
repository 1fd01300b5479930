using System.Numerics;
using Nethereum.Hex.HexTypes;
using Nethereum.RPC.Eth.DTOs;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>
/// A sender's nonces outlive their waiters: a transaction whose caller gave up on it (a settlement batch past its timeout)
/// still holds a nonce that every later transaction of the key waits behind. On an Anvil of its own, whose base fee the
/// tests push around.
/// </summary>
public sealed class PendingNonceTests : IAsyncLifetime
{
    private const long ChainId = 31337;
    private static readonly string Recipient = DevAccounts.Providers[0].Address;

    private AnvilProcess _anvil = null!;
    private ChainRpc _rpc = null!;
    private AnvilCheats _cheats = null!;

    public async Task InitializeAsync()
    {
        _anvil = await AnvilProcess.StartAsync(FoundryToolchain.Locate(AppContext.BaseDirectory).AnvilPath);
        _rpc = new ChainRpc(_anvil.RpcUrl);
        _cheats = new AnvilCheats(_rpc);
    }

    public async Task DisposeAsync() => await _anvil.DisposeAsync();

    [Fact]
    public async Task A_transaction_its_waiter_gave_up_on_is_replaced_at_the_risen_base_fee_until_mined_and_the_one_behind_it_lands()
    {
        using var sender = new TransactionSender(_rpc, DevAccounts.Tenants[0].PrivateKey, ChainId,
            new TransactionSenderOptions { ReplaceAfter = TimeSpan.FromSeconds(1), ReceiptTimeout = TimeSpan.FromSeconds(60) });
        var fromBlock = await LatestBlockAsync();
        await _cheats.SetAutomineAsync(false);

        var givenUp = await sender.SubmitAsync(Recipient, "0x", BigInteger.One);
        using (var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sender.WaitForSuccessAsync(givenUp, deadline.Token));
        var behind = await sender.SubmitAsync(Recipient, "0x", 2);
        Assert.Equal(givenUp.Nonce + 1, behind.Nonce);

        // The base fee jumps to 50 times what both were signed for and stays there: Anvil drops both from its pool at the
        // next block, and a 25% bump at a time would take 18 replacements to catch up.
        var risenBaseFee = givenUp.MaxFeePerGas * 50;
        using var stopMining = new CancellationTokenSource();
        var mining = MineAtBaseFeeAsync(risenBaseFee, stopMining.Token);
        TransactionReceipt receipt;
        try
        {
            receipt = await sender.WaitForSuccessAsync(behind).WaitAsync(TimeSpan.FromSeconds(20));
        }
        finally
        {
            await stopMining.CancelAsync();
            await mining;
            await _cheats.SetAutomineAsync(true);
        }

        Assert.True(receipt.Succeeded());
        // The given-up transaction itself went through, replaced at the new fees: nothing else took its nonce.
        var mined = await MinedFromAsync(sender.Address, fromBlock);
        var atGivenUpNonce = Assert.Single(mined, t => t.Nonce.Value == givenUp.Nonce);
        Assert.Equal(BigInteger.One, atGivenUpNonce.Value.Value);
        Assert.True(atGivenUpNonce.MaxFeePerGas.Value >= risenBaseFee);
        Assert.Equal([givenUp.Nonce, behind.Nonce], mined.Select(t => t.Nonce.Value).Order());
    }

    [Fact]
    public async Task A_nonce_the_chain_dropped_and_the_sender_gave_to_a_new_transaction_is_not_taken_back_and_its_old_waiter_hears_so()
    {
        using var sender = new TransactionSender(_rpc, DevAccounts.Tenants[1].PrivateKey, ChainId,
            new TransactionSenderOptions { ReplaceAfter = TimeSpan.FromMilliseconds(300), ReceiptTimeout = TimeSpan.FromSeconds(30) });
        await _cheats.SetAutomineAsync(false);
        SubmittedTransaction dropped, reused;
        try
        {
            dropped = await sender.SubmitAsync(Recipient, "0x", BigInteger.One);
            // The pool loses it (a reorganization, a node restarted without its pool) and the sender reads its nonce again.
            await _cheats.DropAllTransactionsAsync();
            sender.ResyncNonce();
            reused = await sender.SubmitAsync(Recipient, "0x", 2);
            Assert.Equal(dropped.Nonce, reused.Nonce);
            // Long enough for the keeper to have put the dropped one back in place of the new one, were it still keeping it.
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        finally
        {
            await _cheats.SetAutomineAsync(true);
        }
        await _cheats.MineAsync();

        var receipt = await sender.WaitForSuccessAsync(reused);
        var mined = await TransactionAsync(receipt.TransactionHash);
        Assert.Equal(new BigInteger(2), mined.Value.Value);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => sender.WaitForSuccessAsync(dropped).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("dropped", refused.Message);
    }

    [Fact]
    public async Task Replacements_stop_rising_at_the_fee_ceiling_and_the_transaction_lands_once_the_base_fee_falls_below_it()
    {
        var fromBlock = await LatestBlockAsync();
        await _cheats.SetAutomineAsync(false);
        var ceiling = BigInteger.Zero;
        SubmittedTransaction stuck;
        try
        {
            var probe = await _rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(BlockParameter.CreateLatest()));
            ceiling = probe.BaseFeePerGas.Value * 6;
            using var sender = new TransactionSender(_rpc, DevAccounts.Tenants[2].PrivateKey, ChainId,
                new TransactionSenderOptions { ReplaceAfter = TimeSpan.FromMilliseconds(300), ReceiptTimeout = TimeSpan.FromSeconds(60), MaxFeePerGasCeiling = ceiling });
            stuck = await sender.SubmitAsync(Recipient, "0x", BigInteger.One);

            // Far above the ceiling for long enough for a dozen replacements, each 25% above the last were there no ceiling.
            using (var dear = new CancellationTokenSource(TimeSpan.FromSeconds(4)))
                await MineAtBaseFeeAsync(ceiling * 10, dear.Token);
            Assert.Empty(await MinedFromAsync(sender.Address, fromBlock));

            // The base fee falls back below the ceiling: the transaction, kept and sent again by the sender, is mined.
            await _cheats.SetNextBlockBaseFeeAsync(probe.BaseFeePerGas.Value);
            await _cheats.SetAutomineAsync(true);
            var receipt = await sender.WaitForSuccessAsync(stuck).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.True(receipt.Succeeded());
        }
        finally
        {
            await _cheats.SetAutomineAsync(true);
        }

        var mined = Assert.Single(await MinedFromAsync(DevAccounts.Tenants[2].Address, fromBlock));
        Assert.Equal(stuck.Nonce, mined.Nonce.Value);
        Assert.True(mined.MaxFeePerGas.Value <= ceiling, $"max fee {mined.MaxFeePerGas.Value} above the ceiling {ceiling}");
    }

    [Fact]
    public async Task When_the_chain_goes_back_below_mined_transactions_the_ones_sent_after_them_are_given_up_at_once_and_the_next_send_fills_the_gap()
    {
        using var sender = new TransactionSender(_rpc, DevAccounts.Tenants[3].PrivateKey, ChainId,
            new TransactionSenderOptions { ReplaceAfter = TimeSpan.FromMilliseconds(300), ReceiptTimeout = TimeSpan.FromSeconds(60) });
        var snapshot = await _cheats.SnapshotAsync();
        var first = await sender.SendTransactionAsync(Recipient, "0x", BigInteger.One);
        var firstNonce = (await TransactionAsync(first.TransactionHash)).Nonce.Value;
        Task<TransactionReceipt> waiter;
        await _cheats.SetAutomineAsync(false);
        try
        {
            var behind = await sender.SubmitAsync(Recipient, "0x", 2);
            Assert.Equal(firstNonce + 1, behind.Nonce);
            waiter = sender.WaitForSuccessAsync(behind);
            // What a chain SIGKILLed and restarted from an older state file looks like to the sender: the block of its mined
            // transaction is gone, and so is the pool with the one behind it, whose nonce the chain will not take before the first's.
            await _cheats.RevertAsync(snapshot);
            await _cheats.DropAllTransactionsAsync();
        }
        finally
        {
            await _cheats.SetAutomineAsync(true);
        }

        // Its waiter hears at once, not after the receipt timeout, and the next send takes the nonce the chain expects.
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => waiter.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("went back", refused.Message);
        var again = await sender.SendTransactionAsync(Recipient, "0x", 3).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(again.Succeeded());
        Assert.Equal(firstNonce, (await TransactionAsync(again.TransactionHash)).Nonce.Value);
    }

    [Fact]
    public async Task A_transaction_sent_on_the_nonce_read_again_after_the_chain_went_back_is_not_given_up_and_lands()
    {
        using var sender = new TransactionSender(_rpc, DevAccounts.Tenants[3].PrivateKey, ChainId,
            new TransactionSenderOptions { ReceiptTimeout = TimeSpan.FromSeconds(60) });
        var snapshot = await _cheats.SnapshotAsync();
        var first = await sender.SendTransactionAsync(Recipient, "0x", BigInteger.One);
        var firstNonce = (await TransactionAsync(first.TransactionHash)).Nonce.Value;
        Task<TransactionReceipt> waiter;
        await _cheats.SetAutomineAsync(false);
        try
        {
            // A reorganization drops the mined transaction, and the watcher's handler has the nonce read again: the next
            // transaction takes the dropped one's nonce, the one the chain expects, and waits unmined in the pool.
            await _cheats.RevertAsync(snapshot);
            sender.ResyncNonce();
            var again = await sender.SubmitAsync(Recipient, "0x", 2);
            Assert.Equal(firstNonce, again.Nonce);
            waiter = sender.WaitForSuccessAsync(again);
            // Its waiter reads the mined count, now below the one read before: the chain went back, but not behind this one.
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            Assert.False(waiter.IsCompleted, waiter.Exception?.InnerException?.Message);
            await _cheats.MineAsync();
        }
        finally
        {
            await _cheats.SetAutomineAsync(true);
        }

        var landed = await waiter.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(landed.Succeeded());
    }

    private async Task MineAtBaseFeeAsync(BigInteger baseFee, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            await _cheats.SetNextBlockBaseFeeAsync(baseFee);
            await _cheats.MineAsync();
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private Task<Transaction> TransactionAsync(string hash) => _rpc.CallAsync(web3 => web3.Eth.Transactions.GetTransactionByHash.SendRequestAsync(hash));

    private async Task<long> LatestBlockAsync() => (long)(await _rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync())).Value;

    private async Task<List<Transaction>> MinedFromAsync(string address, long fromBlock)
    {
        var mined = new List<Transaction>();
        for (var number = fromBlock + 1; number <= await LatestBlockAsync(); number++)
        {
            var block = await _rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockWithTransactionsByNumber.SendRequestAsync(new HexBigInteger(number)));
            mined.AddRange(block.Transactions.Where(t => string.Equals(t.From, address, StringComparison.OrdinalIgnoreCase)));
        }
        return mined;
    }
}
