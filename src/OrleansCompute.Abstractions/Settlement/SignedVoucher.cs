namespace OrleansCompute.Abstractions.Settlement;

/// <summary>
/// A tenant's EIP-712 voucher: "for lease <see cref="LeaseId"/> on my channel <see cref="Channel"/> I owe
/// <see cref="Amount"/> in total". The channel is the escrow word the lease was opened on; the signature binds it, so a
/// voucher pays only the lease it names. <see cref="IsFinal"/> closes the lease on chain and credits the rest of the
/// escrow to the tenant's balance there.
/// </summary>
/// <param name="Bundle">
/// Null for a voucher signed on its own. Otherwise the voucher is one of a bundle the signer signed once (a tenant ending
/// several leases at one provider): "0x" and the hex of the bundle's packed 27-byte items, leaseId (16) | channel (4) |
/// isFinal (1) | amount (6), in the order signed, exactly as settleBatch takes them; this voucher is one of those items
/// and <see cref="Signature"/> signs the bundle's <c>VoucherBundle(Voucher[] vouchers)</c> digest. Every member of a
/// bundle carries the same signature and bundle, so the escrow can apply them all from any one of them.
/// </param>
[GenerateSerializer, Immutable, Alias("occ.signed-voucher")]
public sealed record SignedVoucher(
    [property: Id(0)] Guid LeaseId,
    [property: Id(4)] uint Channel,
    [property: Id(1)] Credits Amount,
    [property: Id(2)] bool IsFinal,
    [property: Id(3)] string Signature,
    [property: Id(5)] string? Bundle = null)
{
    /// <summary>
    /// Whether a lease that counts <paramref name="paid"/> as paid and is <paramref name="status"/> has seen this voucher
    /// applied on chain: at least its amount paid and, for a final voucher, the escrow closed. The close matters where the
    /// amount cannot tell: a final voucher for nothing (a block ended before it started) pays no more than was paid, yet it
    /// must still go on chain to close the escrow and refund the tenant. The settlement queue and the audit judge by it alike.
    /// </summary>
    public bool IsSeenBy(Credits paid, Leases.LeaseStatus status) =>
        paid >= Amount && (!IsFinal || status is Leases.LeaseStatus.Settled or Leases.LeaseStatus.Refunded);
}
