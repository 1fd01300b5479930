namespace OrleansCompute.Abstractions.Settlement;

/// <summary>Recovers who signed a voucher for the escrow contract this market settles on.</summary>
public interface IVoucherVerifier
{
    /// <returns>
    /// The signer's address (0x…, checksummed), or null when the signature is malformed. A bundled voucher (see
    /// <see cref="SignedVoucher.Bundle"/>) recovers the signer of its bundle, and null when the bundle does not hold it.
    /// </returns>
    string? RecoverSigner(SignedVoucher voucher);

    /// <returns>False when the voucher names a bundle that is malformed or does not hold the voucher itself; true otherwise.</returns>
    bool IsInItsBundle(SignedVoucher voucher);
}
