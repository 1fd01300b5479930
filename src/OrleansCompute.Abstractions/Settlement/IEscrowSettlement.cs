namespace OrleansCompute.Abstractions.Settlement;

/// <summary>The settlement grains' port to the chain: submits vouchers as one settleBatch transaction.</summary>
public interface IEscrowSettlement
{
    /// <summary>Sends the batch and waits for its receipt. A revert comes back as a failed receipt with the contract's error name.</summary>
    Task<SettlementReceipt> SettleBatchAsync(IReadOnlyList<SignedVoucher> vouchers, CancellationToken cancellationToken);
}

[GenerateSerializer, Immutable, Alias("occ.settlement-receipt")]
public sealed record SettlementReceipt(
    [property: Id(0)] string TransactionHash,
    [property: Id(1)] long BlockNumber,
    [property: Id(2)] bool Succeeded,
    [property: Id(3)] string? Error);
