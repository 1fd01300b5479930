namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// A session key's signed consent (compact r, vs) to sign the vouchers of one tenant's lease: what
/// <c>openLeaseWithSessionKey</c> needs. Made by <see cref="Signing.VoucherSigner.SignSessionKeyConsent"/>.
/// </summary>
public sealed record SessionKeyConsent(string SessionKey, byte[] R, byte[] Vs);
