using System.Numerics;
using Microsoft.Extensions.Logging.Testing;
using Nethereum.JsonRpc.Client;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Signer;
using Nethereum.Web3;
using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Chain.Tests.Fixtures;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>Nonces, retries and concurrency of the one component that owns a key.</summary>
[Collection(ChainCollection.Name)]
public sealed class TransactionSenderTests(ChainFixture chain)
{

    private Task<BigInteger> ChainNonceAsync(string address) =>
        chain.Rpc.CallAsync(async web3 => (await web3.Eth.Transactions.GetTransactionCount.SendRequestAsync(address, BlockParameter.CreatePending())).Value);

    private async Task<BigInteger> NonceOfAsync(TransactionReceipt receipt) =>
        (await chain.GetTransactionAsync(receipt.TransactionHash)).Nonce.Value;

    /// <summary>The transaction as the node knows it (in its pool or mined); null once another took its nonce in the pool.</summary>
    private Task<Transaction?> PooledAsync(string hash) =>
        chain.Rpc.CallAsync(async web3 => (Transaction?)await web3.Eth.Transactions.GetTransactionByHash.SendRequestAsync(hash));

    [Fact]
    public async Task A_transaction_stuck_in_the_pool_is_replaced_with_higher_fees_and_the_replacement_is_what_gets_mined()
    {
        var key = await chain.NewFundedKeyAsync();
        var address = new EthECKey(key).GetPublicAddress();
        using var sender = new TransactionSender(chain.Rpc, key, ChainFixture.ChainId,
            new TransactionSenderOptions { ReplaceAfter = TimeSpan.FromMilliseconds(300), ReceiptTimeout = TimeSpan.FromSeconds(20) });
        var nonceBefore = await ChainNonceAsync(address);

        await chain.Cheats.SetAutomineAsync(false);
        TransactionReceipt receipt;
        SubmittedTransaction submitted;
        try
        {
            // Nothing is mined: to the sender the transaction is stuck, and it offers more until a block comes. The block
            // comes once a replacement has taken the transaction's place in the node's pool (however long the sender's
            // 300 ms wait takes on a busy machine), not after a fixed while.
            submitted = await sender.SubmitAsync(address, "0x", BigInteger.One);
            var waiting = sender.WaitForSuccessAsync(submitted);
            await Patiently.UntilAsync(async () => await PooledAsync(submitted.Hash) is null, "a replacement to take the transaction's place");
            await chain.Cheats.MineAsync();
            receipt = await waiting;
        }
        finally
        {
            await chain.Cheats.SetAutomineAsync(true);
        }

        var mined = await chain.GetTransactionAsync(receipt.TransactionHash);
        Assert.True(receipt.Succeeded());
        Assert.NotEqual(submitted.Hash, receipt.TransactionHash);
        Assert.Equal(submitted.Nonce, mined.Nonce.Value);
        Assert.True(mined.MaxFeePerGas.Value > submitted.MaxFeePerGas);
        Assert.Equal(nonceBefore + 1, await ChainNonceAsync(address));
    }

    [Fact]
    public async Task A_send_that_reverts_at_estimate_burns_no_nonce_and_the_next_send_succeeds()
    {
        var key = await chain.NewFundedKeyAsync();
        var address = new EthECKey(key).GetPublicAddress();
        using var sender = new TransactionSender(chain.Rpc, key, ChainFixture.ChainId);
        var first = await chain.Escrow.Credit.ApproveAsync(sender, chain.Contracts.EscrowAddress, Credits.FromUnits(1));

        await Assert.ThrowsAsync<ChainRevertException>(() => chain.Escrow.WithdrawAsync(sender));
        var next = await chain.Escrow.Credit.ApproveAsync(sender, chain.Contracts.EscrowAddress, Credits.FromUnits(2));

        Assert.True(next.Succeeded());
        Assert.Equal(await NonceOfAsync(first) + 1, await NonceOfAsync(next));
    }

    [Fact]
    public async Task After_a_failed_send_the_nonce_is_read_again_from_the_chain()
    {
        var key = await chain.NewFundedKeyAsync();
        var address = new EthECKey(key).GetPublicAddress();
        var log = new FakeLogger<TransactionSender>();
        using var sender = new TransactionSender(chain.Rpc, key, ChainFixture.ChainId, logger: log);
        await chain.Escrow.Credit.ApproveAsync(sender, chain.Contracts.EscrowAddress, Credits.FromUnits(1));
        // Someone else with the same key (a second process, a restored chain) moves the nonce on.
        using (var other = new TransactionSender(chain.Rpc, key, ChainFixture.ChainId))
        {
            await chain.Escrow.Credit.ApproveAsync(other, chain.Contracts.EscrowAddress, Credits.FromUnits(2));
            await chain.Escrow.Credit.ApproveAsync(other, chain.Contracts.EscrowAddress, Credits.FromUnits(3));
        }
        await Assert.ThrowsAsync<ChainRevertException>(() => chain.Escrow.WithdrawAsync(sender));
        var expected = await ChainNonceAsync(address);

        var receipt = await chain.Escrow.Credit.ApproveAsync(sender, chain.Contracts.EscrowAddress, Credits.FromUnits(4));

        Assert.Equal(expected, await NonceOfAsync(receipt));
        // The fresh nonce came from the reset, not from tripping over "nonce too low".
        Assert.DoesNotContain(log.Collector.GetSnapshot(), entry => entry.Message.Contains("was taken"));
    }

    [Fact]
    public async Task A_sender_whose_nonce_was_taken_by_another_process_signs_again_and_succeeds()
    {
        var key = await chain.NewFundedKeyAsync();
        var address = new EthECKey(key).GetPublicAddress();
        var log = new FakeLogger<TransactionSender>();
        using var sender = new TransactionSender(chain.Rpc, key, ChainFixture.ChainId, logger: log);
        await chain.Escrow.Credit.ApproveAsync(sender, chain.Contracts.EscrowAddress, Credits.FromUnits(1));
        using (var other = new TransactionSender(chain.Rpc, key, ChainFixture.ChainId))
            await chain.Escrow.Credit.ApproveAsync(other, chain.Contracts.EscrowAddress, Credits.FromUnits(2));

        var receipt = await chain.Escrow.Credit.ApproveAsync(sender, chain.Contracts.EscrowAddress, Credits.FromUnits(3));

        Assert.True(receipt.Succeeded());
        Assert.Equal(await ChainNonceAsync(address) - 1, await NonceOfAsync(receipt));
        Assert.Contains(log.Collector.GetSnapshot(), entry => entry.Message.Contains("was taken"));
    }

    [Fact]
    public async Task Concurrent_sends_from_one_sender_all_land_with_distinct_consecutive_nonces()
    {
        var key = await chain.NewFundedKeyAsync();
        var address = new EthECKey(key).GetPublicAddress();
        using var sender = new TransactionSender(chain.Rpc, key, ChainFixture.ChainId);
        var start = await ChainNonceAsync(address);

        var receipts = await Task.WhenAll(Enumerable.Range(1, 16).Select(i =>
            chain.Escrow.Credit.ApproveAsync(sender, chain.Contracts.EscrowAddress, Credits.FromUnits(i))));

        Assert.All(receipts, receipt => Assert.True(receipt.Succeeded()));
        var nonces = await Task.WhenAll(receipts.Select(NonceOfAsync));
        Assert.Equal(Enumerable.Range(0, 16).Select(i => start + i), nonces.Order());
    }

    [Fact]
    public async Task A_broadcast_whose_answer_was_lost_is_retried_with_the_same_bytes_and_lands_once()
    {
        var key = await chain.NewFundedKeyAsync();
        var address = new EthECKey(key).GetPublicAddress();
        var client = new RpcClient(new Uri(chain.Anvil.RpcUrl)) { OverridingRequestInterceptor = new LoseFirstAnswer("eth_sendRawTransaction") };
        var lossy = new ChainRpc(new Web3(client), RpcResilience.CreatePipeline(new RpcResilienceOptions { BaseDelay = TimeSpan.FromMilliseconds(10) }));
        var log = new FakeLogger<TransactionSender>();
        using var sender = new TransactionSender(lossy, key, ChainFixture.ChainId, logger: log);
        var start = await ChainNonceAsync(address);

        var receipt = await sender.SendAsync(chain.Contracts.CreditAddress,
            new Contracts.ComputeCredit.ApproveFunction { Spender = chain.Contracts.EscrowAddress, Value = 5 });

        Assert.True(receipt.Succeeded());
        Assert.Equal(start, await NonceOfAsync(receipt));
        Assert.Equal(start + 1, await ChainNonceAsync(address));
        Assert.Contains(log.Collector.GetSnapshot(), entry => entry.Message.Contains("already delivered"));
    }

    [Fact]
    public async Task Waiting_for_a_receipt_that_never_comes_times_out_instead_of_polling_forever()
    {
        var key = await chain.NewFundedKeyAsync();
        var address = new EthECKey(key).GetPublicAddress();
        using var sender = new TransactionSender(chain.Rpc, key, ChainFixture.ChainId,
            new TransactionSenderOptions { ReceiptTimeout = TimeSpan.FromMilliseconds(300) });

        await Assert.ThrowsAsync<TimeoutException>(() => sender.WaitForReceiptAsync("0x" + new string('0', 63) + "1"));
    }

    [Fact]
    public async Task A_transaction_that_reverts_in_its_block_after_a_good_estimate_names_its_error_and_hash()
    {
        var key = await chain.NewFundedKeyAsync();
        using var tenant = new TransactionSender(chain.Rpc, key, ChainFixture.ChainId);
        await chain.Escrow.Credit.MintAsync(chain.Deployer, tenant.Address, Credits.FromCredits(1m));
        await chain.Escrow.Credit.ApproveAsync(tenant, chain.Contracts.EscrowAddress, Credits.FromCredits(1m));
        var expiry = (await chain.ChainNowAsync()).AddSeconds(30);

        await chain.Cheats.SetAutomineAsync(false);
        SubmittedTransaction submitted;
        try
        {
            // Valid when estimated; by the time a block includes it, the expiry has passed.
            submitted = await tenant.SubmitAsync(chain.Contracts.EscrowAddress, new Contracts.LeaseEscrow.OpenLeaseFunction
            {
                LeaseId = Abstractions.Leases.LeaseIds.ToChainId(Guid.NewGuid()),
                Channel = 4_000_000_000,
                Provider = chain.Providers[0].Address,
                Amount = 1_000_000,
                Expiry = (ulong)expiry.ToUnixTimeSeconds(),
            });
            await chain.Cheats.IncreaseTimeAsync(TimeSpan.FromMinutes(1));
        }
        finally
        {
            await chain.Cheats.SetAutomineAsync(true);
        }

        var revert = await Assert.ThrowsAsync<ChainRevertException>(() => tenant.WaitForSuccessAsync(submitted));

        Assert.Equal("BadExpiry", revert.ErrorName);
        Assert.Equal(submitted.Hash, revert.TransactionHash);
    }

    /// <summary>Delivers the request, then drops the answer, as a connection that breaks after the send would.</summary>
    private sealed class LoseFirstAnswer(string method) : RequestInterceptor
    {
        private int _lost;

        public override async Task<object> InterceptSendRequestAsync<T>(Func<RpcRequest, string, Task<T>> interceptedSendRequestAsync, RpcRequest request, string? route = null)
        {
            var answer = await base.InterceptSendRequestAsync(interceptedSendRequestAsync, request, route);
            if (request.Method == method && Interlocked.Exchange(ref _lost, 1) == 0)
                throw new RpcClientTimeoutException("the answer was lost");
            return answer;
        }
    }
}
