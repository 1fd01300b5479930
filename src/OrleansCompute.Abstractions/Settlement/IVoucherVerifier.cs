namespace OrleansCompute.Abstractions.Settlement;

/// <summary>Recovers who signed a voucher for the escrow contract this market settles on.</summary>
public interface IVoucherVerifier
{
    /// <returns>The signer's address (0x…, checksummed), or null when the signature is malformed.</returns>
    string? RecoverSigner(SignedVoucher voucher);
}
