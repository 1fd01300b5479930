using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nethereum.Contracts;
using Nethereum.RPC.Eth.DTOs;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// The settlement grains' port to the chain: the operator submits a batch of vouchers as one settleBatch. The contract
/// applies each voucher whole or not at all and never reverts the batch for a bad one: every voucher it refuses is named
/// by a SettleRejected event in the receipt, and comes back as a <see cref="SettlementRejection"/> with the reason's error
/// name. Vouchers already redeemed are skipped silently, so a retry is safe and pays nothing twice.
/// A revert of the whole batch (malformed input) is an answer too: a failed receipt naming the contract's error.
/// Transport faults and receipt timeouts throw, so the caller retries.
/// </summary>
public sealed class EscrowSettlement(TransactionSender operatorSender, string escrowAddress, ILogger<EscrowSettlement>? logger = null) : IEscrowSettlement
{
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    public async Task<SettlementReceipt> SettleBatchAsync(IReadOnlyList<SignedVoucher> vouchers, CancellationToken cancellationToken)
    {
        try
        {
            var batch = EscrowClient.ToSettleBatch(vouchers);
            // A bundle goes whole, with members the list may not hold: the contract spends gas on every item it is sent.
            batch.Gas = GasLimit(EscrowBatch.ItemCount(batch.Entries));
            var receipt = await operatorSender.SendAsync(escrowAddress, batch, cancellationToken);
            var rejections = Rejections(receipt);
            _logger.LogInformation("Settled {Count} vouchers in {Hash} (block {Block}), {Rejected} rejected",
                vouchers.Count, receipt.TransactionHash, receipt.BlockNumber.Value, rejections.Count);
            return new SettlementReceipt(receipt.TransactionHash, (long)receipt.BlockNumber.Value, Succeeded: true, Error: null, rejections);
        }
        catch (ChainRevertException revert)
        {
            _logger.LogWarning("Settlement of {Count} vouchers reverted: {Message}", vouchers.Count, revert.Message);
            return new SettlementReceipt(revert.TransactionHash ?? string.Empty, BlockNumber: 0, Succeeded: false, Error: revert.ErrorName);
        }
    }

    /// <summary>
    /// The gas limit of a settleBatch carrying <paramref name="count"/> items, every item of its bundles included: above what
    /// the contract can spend on it (about 11,600 gas an item signed alone, 14,600 for a final one crediting its tenant's
    /// balance, 7,100 and 10,100 for items of a bundle, which share one signature; plus the transaction's base and the
    /// batch's totals: bench/results/gas.md), so
    /// the batch needs no estimate, which would run it a dozen times over. Only the gas used is paid.
    /// A batch too large for that within a block is capped at the usual block gas limit (30M), so it runs out of gas,
    /// reverts and is retried voucher by voucher, instead of being refused by the node and retried whole forever.
    /// </summary>
    public static long GasLimit(int count) => Math.Min(150_000 + 40_000L * count, 30_000_000);

    /// <summary>The contract's name for a SettleRejected reason code (its REJECT_* constants).</summary>
    public static string ReasonName(byte reason) => reason switch
    {
        1 => "BadSignature",
        2 => "UnknownLease",
        3 => "LeaseAlreadyClosed",
        4 => "ExceedsDeposit",
        5 => "ClaimWindowOver",
        6 => "NotSettler",
        7 => "LeaseReplaced",
        _ => $"Reason{reason}",
    };

    private IReadOnlyList<SettlementRejection> Rejections(TransactionReceipt receipt)
    {
        var rejections = new List<SettlementRejection>();
        foreach (var rejected in receipt.DecodeAllEvents<SettleRejectedEventDTO>())
        {
            if (!string.Equals(rejected.Log.Address, escrowAddress, StringComparison.OrdinalIgnoreCase)) continue;
            if (LeaseIds.FromChainId(rejected.Event.LeaseId) is { } leaseId)
                rejections.Add(new SettlementRejection(leaseId, ReasonName(rejected.Event.Reason)));
        }
        return rejections;
    }
}
