using System.Diagnostics;
using System.Numerics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nethereum.Contracts;
using Nethereum.Contracts.MessageEncodingServices;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Hex.HexTypes;
using Nethereum.JsonRpc.Client;
using Nethereum.Model;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Signer;
using Nethereum.Util;
using Newtonsoft.Json.Linq;
using OrleansCompute.Chain.Rpc;

namespace OrleansCompute.Chain.Signing;

/// <summary>
/// The one owner of a signing key and its nonces: everything that sends from this key asks it to.
/// Sends are serialized (estimate, nonce, sign, broadcast) so nonces are handed out in order; waiting for
/// receipts happens outside the lock so concurrent sends pipeline. Transactions are signed here, offline,
/// so a broadcast that is retried re-sends the very same bytes and can never pay twice.
/// Every nonce it spends it keeps until the chain has mined it (<see cref="PendingNonce"/>): the lowest unmined one, when
/// its transaction is not mined within <see cref="TransactionSenderOptions.ReplaceAfter"/>, is replaced at the current
/// fees, whether or not anyone still waits for it, since every later transaction of the key waits behind its nonce.
/// </summary>
public sealed class TransactionSender : IDisposable
{
    private readonly ChainRpc _rpc;
    private readonly EthECKey _key;
    private readonly TransactionSenderOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Transaction1559Signer _signer = new();
    private readonly Lock _minedGate = new();
    private Task<BigInteger>? _minedCountRead;
    private long _minedCountReadAt;
    /// <summary>The mined count the last read gave; guarded by <see cref="_pending"/>. A read below it means the chain went back.</summary>
    private BigInteger _lastMinedCount;
    private BigInteger? _nextNonce;
    private volatile bool _nonceStale;

    /// <summary>Nonces spent and not yet mined, by nonce; guarded by itself. The keeper replaces them until they are mined.</summary>
    private readonly Dictionary<BigInteger, PendingNonce> _pending = [];

    /// <summary>Each submitted transaction's nonce record, so a waiter finds whichever version of it was mined.</summary>
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<SubmittedTransaction, PendingNonce> _records = new();

    private readonly CancellationTokenSource _stopping = new();
    private Task? _keeper;

    public TransactionSender(ChainRpc rpc, string privateKey, long chainId, TransactionSenderOptions? options = null, ILogger<TransactionSender>? logger = null)
    {
        _rpc = rpc;
        _key = new EthECKey(privateKey);
        ChainId = chainId;
        Address = _key.GetPublicAddress();
        _options = options ?? new TransactionSenderOptions();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The sending account, checksummed.</summary>
    public string Address { get; }

    public long ChainId { get; }

    /// <summary>
    /// Calls a contract function and waits for its receipt. The gas limit is estimated, unless the function message
    /// names one (its <c>Gas</c>), as Nethereum's own transaction manager does: then it is sent as
    /// is, and a revert is named from the mined transaction. A node's estimate searches for the least gas that succeeds
    /// and runs the call a dozen or more times, which for a settlement batch of hundreds of signatures costs far more than
    /// the transaction itself.
    /// </summary>
    /// <exception cref="ChainRevertException">The call reverts, at estimation or on chain; carries the custom error's name.</exception>
    /// <exception cref="TimeoutException">No receipt within <see cref="TransactionSenderOptions.ReceiptTimeout"/>.</exception>
    public async Task<TransactionReceipt> SendAsync<TFunction>(string contractAddress, TFunction function, CancellationToken cancellationToken = default)
        where TFunction : FunctionMessage, new()
    {
        var submitted = await SubmitAsync(contractAddress, function, cancellationToken);
        return await WaitForSuccessAsync(submitted, cancellationToken);
    }

    /// <summary>Deploys a contract; the receipt's <c>ContractAddress</c> is the new contract.</summary>
    public Task<TransactionReceipt> DeployAsync<TDeployment>(TDeployment deployment, CancellationToken cancellationToken = default)
        where TDeployment : ContractDeploymentMessage, new() =>
        SendTransactionAsync(null, new DeploymentMessageEncodingService<TDeployment>().GetDeploymentData(deployment), deployment.AmountToSend, cancellationToken);

    public async Task<TransactionReceipt> SendTransactionAsync(string? to, string data, BigInteger value, CancellationToken cancellationToken = default)
    {
        var submitted = await SubmitAsync(to, data, value, gasLimit: null, cancellationToken);
        return await WaitForSuccessAsync(submitted, cancellationToken);
    }

    /// <summary>
    /// The chain may have dropped transactions of this key (a reorganization replaced their blocks): the next send asks the
    /// chain for the nonce instead of counting on them, so it does not wait behind a gap they left.
    /// </summary>
    public void ResyncNonce() => _nonceStale = true;

    /// <summary>Like <see cref="SendAsync{TFunction}"/> but returns once the node has the transaction, so the caller can record its hash first.</summary>
    public Task<SubmittedTransaction> SubmitAsync<TFunction>(string contractAddress, TFunction function, CancellationToken cancellationToken = default)
        where TFunction : FunctionMessage, new() =>
        SubmitAsync(contractAddress, function.GetCallData().ToHex(prefix: true), function.AmountToSend, function.Gas, cancellationToken);

    /// <summary>Waits for the receipt of a submitted transaction; a transaction that reverted on chain throws its named error.</summary>
    /// <exception cref="ChainRevertException">It was mined and reverted; <see cref="ChainRevertException.TransactionHash"/> is set.</exception>
    public async Task<TransactionReceipt> WaitForSuccessAsync(SubmittedTransaction submitted, CancellationToken cancellationToken = default)
    {
        var receipt = await WaitForMinedAsync(submitted, cancellationToken);
        if (receipt.Succeeded()) return receipt;
        throw await ExplainFailedReceiptAsync(submitted, receipt, cancellationToken);
    }

    /// <summary>Estimates, signs and broadcasts; returns once the node has the transaction, without waiting for it to be mined.</summary>
    public Task<SubmittedTransaction> SubmitAsync(string? to, string data, BigInteger value, CancellationToken cancellationToken = default) =>
        SubmitAsync(to, data, value, gasLimit: null, cancellationToken);

    /// <param name="gasLimit">The gas limit to send with; null estimates it.</param>
    private async Task<SubmittedTransaction> SubmitAsync(string? to, string data, BigInteger value, BigInteger? gasLimit, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var gas = gasLimit ?? await EstimateGasAsync(to, data, value, cancellationToken);
            var (maxPriorityFee, maxFee) = await SuggestFeesAsync(cancellationToken);
            for (var attempt = 1; ; attempt++)
            {
                var nonce = await NextNonceAsync(cancellationToken);
                var transaction = new Transaction1559(ChainId, nonce, maxPriorityFee, maxFee, gas, to ?? string.Empty, value, data, []);
                var raw = _signer.SignTransaction(_key, transaction).EnsureHexPrefix();
                var hash = Sha3Keccack.Current.CalculateHash(raw.HexToByteArray()).ToHex(prefix: true);
                try
                {
                    await BroadcastAsync(raw, hash, cancellationToken);
                }
                catch (RpcResponseException exception) when (attempt == 1 && IsNonceConflict(exception))
                {
                    // Something else spent our nonce (another process with this key, or a chain restored from older
                    // state): re-read the nonce and sign again, once.
                    _logger.LogWarning("Nonce {Nonce} of {Address} was taken ({Message}); re-reading it from the chain", nonce, Address, exception.Message);
                    _nextNonce = null;
                    continue;
                }
                _nextNonce = nonce + 1;
                _logger.LogDebug("Sent {Hash} from {Address} with nonce {Nonce}", hash, Address, nonce);
                var submitted = new SubmittedTransaction(hash, nonce, to, data, value, gas) { MaxPriorityFeePerGas = maxPriorityFee, MaxFeePerGas = maxFee };
                Keep(submitted);
                return submitted;
            }
        }
        catch
        {
            // Whatever failed, the next send asks the chain which nonce is next instead of trusting our count.
            _nextNonce = null;
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Waits for the transaction's nonce to be mined and returns the receipt of whichever version was mined (the keeper may
    /// have replaced it with higher fees meanwhile; only one version can be mined: they share the nonce). A caller that gives
    /// up leaves the nonce with the keeper, which goes on replacing it until it is mined.
    /// </summary>
    private async Task<TransactionReceipt> WaitForMinedAsync(SubmittedTransaction submitted, CancellationToken cancellationToken)
    {
        if (!_records.TryGetValue(submitted, out var record)) return await WaitForReceiptAsync(submitted.Hash, submitted.Nonce, cancellationToken);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.ReceiptTimeout);
        try
        {
            while (true)
            {
                if (await MinedCountAsync(deadline.Token) > submitted.Nonce)
                {
                    foreach (var version in record.Versions)
                    {
                        var receipt = await _rpc.CallAsync(
                            web3 => web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(version.Hash), deadline.Token);
                        if (receipt is not null) return receipt;
                    }
                    if (record.Superseded)
                        throw new InvalidOperationException($"Transaction {submitted.Hash} was dropped by the chain; its nonce {submitted.Nonce} went to another transaction.");
                }
                else if (record.Superseded)
                {
                    // Given up by the sender (the chain went back below its nonce, see NoticeMinedCount): the caller sends again.
                    throw new InvalidOperationException($"Transaction {submitted.Hash} was dropped by the chain, which went back below its nonce {submitted.Nonce}; send it again.");
                }
                await Task.Delay(_options.ReceiptPollInterval, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No receipt for transaction {submitted.Hash} (or its {record.Versions.Count - 1} replacement(s)) after {_options.ReceiptTimeout.TotalSeconds:0.#} s; its nonce is still being replaced until mined.");
        }
    }

    /// <summary>Keeps the nonce of a transaction just sent until it is mined (when replacing is on); a record of the same nonce before it was dropped by the chain gives way.</summary>
    private void Keep(SubmittedTransaction submitted)
    {
        if (_options.ReplaceAfter is not { } replaceAfter) return;
        var record = new PendingNonce(submitted, Stopwatch.GetTimestamp() + Ticks(replaceAfter));
        _records.AddOrUpdate(submitted, record);
        lock (_pending)
        {
            if (_pending.TryGetValue(submitted.Nonce, out var dropped)) dropped.Supersede();
            _pending[submitted.Nonce] = record;
            _keeper ??= Task.Run(KeepPendingAsync);
        }
    }

    /// <summary>
    /// Runs while any spent nonce is not mined: forgets those the chain has mined and replaces each one not mined within
    /// <see cref="TransactionSenderOptions.ReplaceAfter"/> of its last version. Independent of waiters: a settlement batch
    /// given up on by its grain still holds a nonce that every later transaction of this key waits behind.
    /// </summary>
    private async Task KeepPendingAsync()
    {
        var stopping = _stopping.Token;
        var replaceAfter = Ticks(_options.ReplaceAfter!.Value);
        while (!stopping.IsCancellationRequested)
        {
            PendingNonce[] pending;
            lock (_pending)
            {
                if (_pending.Count == 0)
                {
                    _keeper = null;
                    return;
                }
                pending = [.. _pending.Values.OrderBy(p => p.Nonce)];
            }
            try
            {
                var mined = await MinedCountAsync(stopping);
                lock (_pending)
                {
                    foreach (var record in pending.Where(p => p.Nonce < mined))
                        if (_pending.TryGetValue(record.Nonce, out var kept) && kept == record) _pending.Remove(record.Nonce);
                }
                // Only the lowest unmined nonce can be stuck: the rest wait behind it, and replacing each of a backlog that
                // is merely slow would flood the node with replacements. Once it is mined the next one is the lowest, overdue
                // already if it has waited as long, and is replaced at the next pass.
                if (pending.FirstOrDefault(p => p.Nonce >= mined && !p.Superseded) is { } lowest && Stopwatch.GetTimestamp() >= lowest.ReplaceAt)
                {
                    if (await ReplaceAsync(lowest, stopping) is { } replacement) lowest.Add(replacement);
                    lowest.ReplaceAt = Stopwatch.GetTimestamp() + replaceAfter;
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                _logger.LogInformation("Checking the pending transactions of {Address} failed ({Message}); trying again", Address, exception.Message);
            }
            try
            {
                await Task.Delay(_options.ReceiptPollInterval, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Signs the record's transaction again with fees above both its latest version's (by <see cref="TransactionSenderOptions.FeeBumpPercent"/>,
    /// which nodes require of a replacement) and what the chain asks now (a base fee that rose past the old cap would take many
    /// bumps to reach), and broadcasts it; this also puts back a transaction the node dropped. Null when the node refused it
    /// (the nonce was mined meanwhile, or the node could not be reached): the versions already sent still stand.
    /// </summary>
    private async Task<SubmittedTransaction?> ReplaceAsync(PendingNonce record, CancellationToken cancellationToken)
    {
        var stuck = record.Latest;
        var (currentPriority, currentMaxFee) = await SuggestFeesAsync(cancellationToken);
        var priority = BigInteger.Max(stuck.MaxPriorityFeePerGas * (100 + _options.FeeBumpPercent) / 100 + 1, currentPriority);
        var maxFee = BigInteger.Max(stuck.MaxFeePerGas * (100 + _options.FeeBumpPercent) / 100 + 1, currentMaxFee);
        if (_options.MaxFeePerGasCeiling is { } ceiling && maxFee > ceiling)
        {
            // A replacement must outbid its predecessor by 10%; below that, what is sent again is the predecessor itself.
            (priority, maxFee) = ceiling >= stuck.MaxFeePerGas * 110 / 100 + 1
                ? (BigInteger.Min(priority, ceiling), ceiling)
                : (stuck.MaxPriorityFeePerGas, stuck.MaxFeePerGas);
        }
        var transaction = new Transaction1559(ChainId, stuck.Nonce, priority, maxFee, stuck.Gas, stuck.To ?? string.Empty, stuck.Value, stuck.Data, []);
        string raw;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            // Checked under the gate, which new sends hold while they take a nonce: a nonce given to another transaction is not taken back.
            if (record.Superseded) return null;
            raw = _signer.SignTransaction(_key, transaction).EnsureHexPrefix();
        }
        finally
        {
            _gate.Release();
        }
        var hash = Sha3Keccack.Current.CalculateHash(raw.HexToByteArray()).ToHex(prefix: true);
        try
        {
            await BroadcastAsync(raw, hash, cancellationToken);
            if (hash == stuck.Hash)
            {
                _logger.LogWarning("Transaction {Stuck} (nonce {Nonce}) not mined in time and at the fee ceiling ({MaxFee}); sent again as it is",
                    stuck.Hash, stuck.Nonce, maxFee);
                return null;
            }
            _logger.LogWarning("Transaction {Stuck} (nonce {Nonce}) not mined in time; replaced by {Hash} with max fee {MaxFee} (was {OldMaxFee})",
                stuck.Hash, stuck.Nonce, hash, maxFee, stuck.MaxFeePerGas);
        }
        catch (Exception refused) when (refused is not OperationCanceledException)
        {
            _logger.LogInformation("Replacement of {Stuck} (nonce {Nonce}) not sent: {Message}", stuck.Hash, stuck.Nonce, refused.Message);
            return null;
        }
        return stuck with { Hash = hash, MaxPriorityFeePerGas = priority, MaxFeePerGas = maxFee };
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    /// <summary>Polls for the receipt until it exists or the receipt timeout passes.</summary>
    public Task<TransactionReceipt> WaitForReceiptAsync(string transactionHash, CancellationToken cancellationToken = default) =>
        WaitForReceiptAsync(transactionHash, nonce: null, cancellationToken);

    /// <summary>
    /// Polls for the receipt of a transaction of ours with <paramref name="nonce"/>. Until the account's mined transaction
    /// count passes that nonce there can be no receipt, so the waiters share one read of that count per poll interval
    /// instead of each asking for its receipt: a sender with hundreds of transactions in flight costs the node one call
    /// per interval plus one per receipt, not one per transaction per interval.
    /// </summary>
    private async Task<TransactionReceipt> WaitForReceiptAsync(string transactionHash, BigInteger? nonce, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.ReceiptTimeout);
        try
        {
            while (true)
            {
                if (nonce is not { } ours || await MinedCountAsync(deadline.Token) > ours)
                {
                    var receipt = await _rpc.CallAsync(
                        web3 => web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(transactionHash), deadline.Token);
                    if (receipt is not null) return receipt;
                }
                await Task.Delay(_options.ReceiptPollInterval, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The transaction may have been dropped; its nonce may be free again.
            _nonceStale = true;
            throw new TimeoutException($"No receipt for transaction {transactionHash} after {_options.ReceiptTimeout.TotalSeconds:0.#} s.");
        }
    }

    /// <summary>How many of this account's transactions are mined: read at most once per poll interval, shared by every waiter.</summary>
    private Task<BigInteger> MinedCountAsync(CancellationToken cancellationToken)
    {
        Task<BigInteger> read;
        lock (_minedGate)
        {
            // In flight, or read successfully within the interval: share it. A failed read is not kept.
            var current = _minedCountRead;
            var fresh = current is not null && (!current.IsCompleted ||
                (current.IsCompletedSuccessfully && Stopwatch.GetElapsedTime(_minedCountReadAt) < _options.ReceiptPollInterval));
            if (!fresh)
            {
                _minedCountReadAt = Stopwatch.GetTimestamp();
                // No one waiter's token: the read serves them all, and the RPC pipeline bounds its time.
                _minedCountRead = ReadMinedCountAsync();
            }
            read = _minedCountRead!;
        }
        return read.WaitAsync(cancellationToken);
    }

    private async Task<BigInteger> ReadMinedCountAsync()
    {
        var mined = await _rpc.CallAsync(async web3 =>
            (await web3.Eth.Transactions.GetTransactionCount.SendRequestAsync(Address, BlockParameter.CreateLatest())).Value);
        NoticeMinedCount(mined);
        return mined;
    }

    /// <summary>
    /// A mined count below one read before: the chain lost transactions of this key it had mined (a node restarted from an
    /// older state file, a reorganization). Their nonces are free again, and the chain takes no nonce above them until
    /// they are spent anew, but the sender no longer holds those transactions (it forgets each once mined): every nonce it
    /// still keeps above the first nonce it no longer holds is behind that gap, and would wait there until the next send
    /// filled it, which its own callers, waiting for these very receipts, may be holding back (a settlement queue sends
    /// its next partial batch only after them). So the next send reads its nonce from the chain, and the transactions
    /// behind the gap are given up, each waiter told so at once, to be sent again on the nonces the chain expects: should
    /// one of them still be mined, sending it again costs gas but pays nothing twice (a settlement voucher counts only above
    /// what is paid). Those below the gap are left alone: among them is what was sent after the chain went back, on the
    /// nonce read again then (the watcher's reorganization handler asks for that), which is the chain's next and will be mined.
    /// </summary>
    private void NoticeMinedCount(BigInteger mined)
    {
        lock (_pending)
        {
            var before = _lastMinedCount;
            _lastMinedCount = mined;
            if (mined >= before) return;
            _nonceStale = true;
            var gap = mined;
            while (_pending.ContainsKey(gap)) gap++;
            var behind = _pending.Values.Where(p => p.Nonce > gap).ToList();
            foreach (var record in behind)
            {
                record.Supersede();
                _pending.Remove(record.Nonce);
            }
            _logger.LogWarning("The chain went back from {Before} to {Mined} mined transactions of {Address}: reading the nonce again, and giving up {Count} transaction(s) behind the free nonce {Gap}",
                before, mined, Address, behind.Count, gap);
        }
    }

    private async Task<BigInteger> EstimateGasAsync(string? to, string data, BigInteger value, CancellationToken cancellationToken)
    {
        var call = new CallInput(data, to, Address, null, new HexBigInteger(value));
        try
        {
            var estimate = await _rpc.CallAsync(web3 => web3.Eth.Transactions.EstimateGas.SendRequestAsync(call), cancellationToken);
            return estimate.Value * (100 + _options.GasMarginPercent) / 100;
        }
        catch (RpcResponseException exception) when (RevertDecoder.TryFromRpcError(exception) is { } revert)
        {
            throw revert;
        }
    }

    private async Task<(BigInteger MaxPriorityFee, BigInteger MaxFee)> SuggestFeesAsync(CancellationToken cancellationToken)
    {
        var block = await _rpc.CallAsync(
            web3 => web3.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(BlockParameter.CreateLatest()), cancellationToken);
        var baseFee = block.BaseFeePerGas?.Value ?? BigInteger.Zero;
        // Twice the base fee survives several full blocks of base-fee growth before the transaction gets stuck.
        return (_options.MaxPriorityFeePerGas, baseFee * 2 + _options.MaxPriorityFeePerGas);
    }

    private async Task<BigInteger> NextNonceAsync(CancellationToken cancellationToken)
    {
        if (_nonceStale)
        {
            _nonceStale = false;
            _nextNonce = null;
        }
        if (_nextNonce is { } known) return known;
        var pending = await _rpc.CallAsync(
            web3 => web3.Eth.Transactions.GetTransactionCount.SendRequestAsync(Address, BlockParameter.CreatePending()), cancellationToken);
        _nextNonce = pending.Value;
        return pending.Value;
    }

    private async Task BroadcastAsync(string raw, string hash, CancellationToken cancellationToken)
    {
        try
        {
            await _rpc.CallAsync(web3 => web3.Eth.Transactions.SendRawTransaction.SendRequestAsync(raw), cancellationToken);
        }
        catch (RpcResponseException exception) when (IsAlreadyKnown(exception) || IsNonceConflict(exception))
        {
            // An earlier attempt whose answer was lost may have delivered these very bytes: then the node knows the hash.
            var known = await _rpc.CallAsync(web3 => web3.Eth.Transactions.GetTransactionByHash.SendRequestAsync(hash), cancellationToken);
            if (known is null) throw;
            _logger.LogInformation("Transaction {Hash} was already delivered by an earlier attempt", hash);
        }
    }

    private async Task<ChainRevertException> ExplainFailedReceiptAsync(SubmittedTransaction submitted, TransactionReceipt receipt, CancellationToken cancellationToken)
    {
        // A receipt says only "failed". The node's call trace has the revert data as it happened in the block;
        // nodes without debug_traceTransaction get a replay on the state before the block, which misses
        // transactions earlier in the same block but is usually right.
        try
        {
            var trace = await _rpc.CallAsync(
                web3 => web3.Client.SendRequestAsync<JObject>("debug_traceTransaction", null, submitted.Hash, new Dictionary<string, string> { ["tracer"] = "callTracer" }),
                cancellationToken);
            var output = trace?.Value<string>("output");
            var error = trace?.Value<string>("error");
            if (output is not null || error is not null)
                return RevertDecoder.Decode(output, submitted.Hash, reasonWithoutData: error);
        }
        catch (RpcResponseException exception)
        {
            _logger.LogDebug("No call trace for {Hash} ({Message}); replaying it instead", submitted.Hash, exception.Message);
        }

        var block = new BlockParameter(new HexBigInteger(BigInteger.Max(receipt.BlockNumber.Value - 1, 0)));
        var call = new CallInput(submitted.Data, submitted.To, Address, new HexBigInteger(submitted.Gas), new HexBigInteger(submitted.Value));
        try
        {
            await _rpc.CallAsync(web3 => web3.Eth.Transactions.Call.SendRequestAsync(call, block), cancellationToken);
        }
        catch (RpcResponseException exception) when (RevertDecoder.TryFromRpcError(exception, submitted.Hash) is { } revert)
        {
            return revert;
        }
        return RevertDecoder.Decode(null, submitted.Hash);
    }

    private static bool IsAlreadyKnown(RpcResponseException exception) =>
        ContainsAny(exception.RpcError.Message, "already known", "already imported", "known transaction", "alreadyknown");

    private static bool IsNonceConflict(RpcResponseException exception) =>
        ContainsAny(exception.RpcError.Message, "nonce too low", "noncetoolow", "replacement transaction underpriced", "nonce has already been used");

    private static bool ContainsAny(string? text, params string[] phrases) =>
        text is not null && phrases.Any(phrase => text.Contains(phrase, StringComparison.OrdinalIgnoreCase));

    /// <summary>Stops replacing pending transactions; those already sent stay with the node.</summary>
    public void Dispose() => _stopping.Cancel();
}
