namespace OrleansCompute.Abstractions.Settlement;

/// <summary>
/// A tenant's EIP-712 voucher: "for lease <see cref="LeaseId"/> I owe <see cref="Amount"/> in total".
/// <see cref="IsFinal"/> closes the lease on chain and refunds the rest of the escrow.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.signed-voucher")]
public sealed record SignedVoucher(
    [property: Id(0)] Guid LeaseId,
    [property: Id(1)] Credits Amount,
    [property: Id(2)] bool IsFinal,
    [property: Id(3)] string Signature);
