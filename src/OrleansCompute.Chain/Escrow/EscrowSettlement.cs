using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// The settlement grains' port to the chain: the operator submits a batch of vouchers as one settleBatch.
/// A revert is an answer, not a fault: it comes back as a failed receipt naming the contract's error.
/// Transport faults and receipt timeouts still throw, so the caller retries; the contract makes a retry safe
/// (a voucher already redeemed reverts with StaleVoucher or LeaseAlreadyClosed instead of paying twice).
/// </summary>
public sealed class EscrowSettlement(TransactionSender operatorSender, string escrowAddress, ILogger<EscrowSettlement>? logger = null) : IEscrowSettlement
{
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    public async Task<SettlementReceipt> SettleBatchAsync(IReadOnlyList<SignedVoucher> vouchers, CancellationToken cancellationToken)
    {
        try
        {
            var receipt = await operatorSender.SendAsync(escrowAddress, EscrowClient.ToSettleBatch(vouchers), cancellationToken);
            _logger.LogInformation("Settled {Count} vouchers in {Hash} (block {Block})", vouchers.Count, receipt.TransactionHash, receipt.BlockNumber.Value);
            return new SettlementReceipt(receipt.TransactionHash, (long)receipt.BlockNumber.Value, Succeeded: true, Error: null);
        }
        catch (ChainRevertException revert)
        {
            _logger.LogWarning("Settlement of {Count} vouchers reverted: {Message}", vouchers.Count, revert.Message);
            return new SettlementReceipt(revert.TransactionHash ?? string.Empty, BlockNumber: 0, Succeeded: false, Error: revert.ErrorName);
        }
    }
}
