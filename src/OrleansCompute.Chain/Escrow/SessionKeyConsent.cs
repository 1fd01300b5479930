namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// A session key's signed consent (compact r, vs) to sign the vouchers of one tenant's lease on the key's channel
/// <see cref="Channel"/>: what <c>openLeaseWithSessionKey</c> needs. Made by
/// <see cref="Signing.VoucherSigner.SignSessionKeyConsent"/>.
/// </summary>
public sealed record SessionKeyConsent(string SessionKey, uint Channel, byte[] R, byte[] Vs);
