namespace OrleansCompute.Abstractions.Settlement;

/// <summary>
/// A tenant's EIP-712 voucher: "for lease <see cref="LeaseId"/> on my channel <see cref="Channel"/> I owe
/// <see cref="Amount"/> in total". The channel is the escrow word the lease was opened on; the signature binds it, so a
/// voucher pays only the lease it names. <see cref="IsFinal"/> closes the lease on chain and credits the rest of the
/// escrow to the tenant's balance there.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.signed-voucher")]
public sealed record SignedVoucher(
    [property: Id(0)] Guid LeaseId,
    [property: Id(4)] uint Channel,
    [property: Id(1)] Credits Amount,
    [property: Id(2)] bool IsFinal,
    [property: Id(3)] string Signature);
