namespace OrleansCompute.Abstractions.Settlement;

/// <summary>The settlement grains' port to the chain: submits vouchers as one settleBatch transaction.</summary>
public interface IEscrowSettlement
{
    /// <summary>
    /// Sends the batch and waits for its receipt. A batch that applies goes through even when some vouchers are bad:
    /// those come back in <see cref="SettlementReceipt.Rejections"/>. A revert of the whole batch comes back as a failed
    /// receipt with the contract's error name.
    /// </summary>
    Task<SettlementReceipt> SettleBatchAsync(IReadOnlyList<SignedVoucher> vouchers, CancellationToken cancellationToken);
}

[GenerateSerializer, Immutable, Alias("occ.settlement-receipt")]
public sealed record SettlementReceipt(
    [property: Id(0)] string TransactionHash,
    [property: Id(1)] long BlockNumber,
    [property: Id(2)] bool Succeeded,
    [property: Id(3)] string? Error,
    [property: Id(4)] IReadOnlyList<SettlementRejection>? Rejections = null);

/// <summary>A voucher of a batch that went through which the contract did not apply, and why (its error name, e.g. ExceedsDeposit).</summary>
[GenerateSerializer, Immutable, Alias("occ.settlement-rejection")]
public sealed record SettlementRejection(
    [property: Id(0)] Guid LeaseId,
    [property: Id(1)] string Reason);
