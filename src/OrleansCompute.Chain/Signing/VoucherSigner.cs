using System.Numerics;
using Nethereum.ABI.EIP712;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Util;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Escrow;

namespace OrleansCompute.Chain.Signing;

/// <summary>
/// EIP-712 vouchers for one escrow contract on one chain: the domain binds both, so a voucher cannot be
/// replayed elsewhere. The digest (Nethereum's EIP-712 encoder) equals the contract's <c>hashVoucher</c>.
/// Signatures are made in the 64-byte compact form the contract takes (EIP-2098 r||vs); recovery also reads the
/// 65-byte r||s||v form wallets produce, and the escrow client converts either to (r, vs) for the chain.
/// </summary>
public sealed class VoucherSigner : IVoucherVerifier
{
    public const string DomainName = "OrleansCompute LeaseEscrow";
    public const string DomainVersion = "5";
    public const string PrimaryType = "Voucher";

    private static readonly Dictionary<string, MemberDescription[]> Types =
        MemberDescriptionFactory.GetTypesMemberDescription(typeof(Domain), typeof(Voucher));

    public VoucherSigner(long chainId, string escrowAddress)
    {
        ChainId = chainId;
        EscrowAddress = escrowAddress;
        DomainSeparator = Eip712TypedDataEncoder.Current.HashDomainSeparator(NewTypedData());
    }

    public long ChainId { get; }

    public string EscrowAddress { get; }

    public byte[] DomainSeparator { get; }

    /// <summary>The 32-byte digest the tenant signs; what the contract's <c>hashVoucher</c> returns.</summary>
    /// <remarks>
    /// Computed by hand, like the bundle digest: Nethereum's general typed-data encoder took about half a millisecond per
    /// voucher, more than recovering the signature. The tests hold the two equal, and both equal to the contract's.
    /// </remarks>
    public byte[] Digest(Voucher voucher) => TypedDataDigest(StructHash(voucher));

    public string Sign(string tenantPrivateKey, Voucher voucher) => EthereumSignature.SignCompact(Digest(voucher), tenantPrivateKey);

    /// <summary>Signs "for lease <paramref name="leaseId"/> on my channel <paramref name="channel"/> I owe <paramref name="amount"/> in total".</summary>
    public SignedVoucher Sign(string tenantPrivateKey, Guid leaseId, uint channel, Credits amount, bool isFinal) =>
        new(leaseId, channel, amount, isFinal, Sign(tenantPrivateKey, ToChainVoucher(leaseId, channel, amount, isFinal)));

    /// <summary>
    /// Signs <paramref name="vouchers"/> (2 to <see cref="EscrowBatch.MaxBundle"/>, any leases of this signer) as one
    /// bundle: one signature over their <c>VoucherBundle</c> digest, which the escrow checks once for all of them.
    /// </summary>
    /// <returns>A voucher per member, in order, each carrying the shared signature and the packed bundle.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than 2 vouchers (sign one on its own) or more than the contract takes.</exception>
    public IReadOnlyList<SignedVoucher> SignBundle(string privateKey, IReadOnlyList<VoucherRequest> vouchers)
    {
        var chainVouchers = vouchers.Select(v => ToChainVoucher(v.LeaseId, v.Channel, v.Amount, v.IsFinal)).ToList();
        var bundle = EscrowBatch.PackBundle(chainVouchers);
        var signature = EthereumSignature.SignCompact(BundleDigest(chainVouchers), privateKey);
        return vouchers.Select(v => new SignedVoucher(v.LeaseId, v.Channel, v.Amount, v.IsFinal, signature, bundle)).ToList();
    }

    /// <returns>
    /// The signer's checksummed address, or null when the signature is malformed or would not pass the contract's checks.
    /// A bundled voucher recovers over its bundle's digest, and only when the bundle is well-formed and holds the voucher
    /// itself: a signature over other vouchers is no signature of this one.
    /// </returns>
    public string? RecoverSigner(SignedVoucher voucher)
    {
        if (voucher.Amount.Units < 0) return null;
        if (voucher.Bundle is not { } bundle) return RecoverSigner(ToChainVoucher(voucher), voucher.Signature);
        if (!EscrowBatch.BundleHolds(bundle, voucher)) return null;
        return EthereumSignature.Recover(BundleDigest(bundle), voucher.Signature);
    }

    /// <summary>
    /// The last bundle digested: a bundle's members are checked one after another (a lease grain each), and its digest
    /// hashes every member, so each would otherwise cost the whole bundle again.
    /// </summary>
    private volatile DigestedBundle? _lastBundle;

    private sealed record DigestedBundle(string Bundle, byte[] Digest);

    private byte[] BundleDigest(string bundle)
    {
        if (_lastBundle is { } last && last.Bundle == bundle) return last.Digest;
        var digest = BundleDigest(EscrowBatch.ParseBundle(bundle)!);
        _lastBundle = new DigestedBundle(bundle, digest);
        return digest;
    }

    /// <returns>False when the voucher names a bundle that is malformed or does not hold the voucher itself; true otherwise.</returns>
    public bool IsInItsBundle(SignedVoucher voucher) => voucher.Bundle is not { } bundle || EscrowBatch.BundleHolds(bundle, voucher);

    public string? RecoverSigner(Voucher voucher, string signature) => EthereumSignature.Recover(Digest(voucher), signature);

    public static Voucher ToChainVoucher(SignedVoucher voucher) => ToChainVoucher(voucher.LeaseId, voucher.Channel, voucher.Amount, voucher.IsFinal);

    public static Voucher ToChainVoucher(Guid leaseId, uint channel, Credits amount, bool isFinal) => new()
    {
        LeaseId = LeaseIds.ToChainId(leaseId),
        Channel = channel,
        Amount = CreditsOnChain.ToUnits(amount),
        IsFinal = isFinal,
    };

    /// <summary>The (r, vs) halves the contract takes for a signature in either form, or null when it is malformed.</summary>
    public static (byte[] R, byte[] Vs)? ToCompact(string signature) => EthereumSignature.ToCompact(signature);

    /// <summary>
    /// The 32-byte digest a bundle's signer signs; what the contract's <c>hashVoucherBundle</c> returns. The EIP-712 struct
    /// <c>VoucherBundle(Voucher[] vouchers)</c>, its array encoded as the keccak of its members' struct hashes, computed
    /// here rather than through Nethereum's typed-data encoder, which is far slower on arrays of structs.
    /// </summary>
    public byte[] BundleDigest(IReadOnlyList<Voucher> vouchers)
    {
        var memberHashes = new byte[32 * vouchers.Count];
        for (var i = 0; i < vouchers.Count; i++) StructHash(vouchers[i]).CopyTo(memberHashes, 32 * i);
        var bundle = new byte[64];
        BundleTypeHash.CopyTo(bundle, 0);
        Sha3Keccack.Current.CalculateHash(memberHashes).CopyTo(bundle, 32);
        return TypedDataDigest(Sha3Keccack.Current.CalculateHash(bundle));
    }

    /// <summary>EIP-712's hashStruct of a voucher: keccak256(abi.encode(VOUCHER_TYPEHASH, leaseId, channel, amount, isFinal)).</summary>
    private static byte[] StructHash(Voucher voucher)
    {
        var encoded = new byte[32 * 5];
        VoucherTypeHash.CopyTo(encoded, 0);
        WriteWord(voucher.LeaseId, encoded.AsSpan(32, 32));
        WriteWord(voucher.Channel, encoded.AsSpan(64, 32));
        WriteWord(voucher.Amount, encoded.AsSpan(96, 32));
        encoded[159] = voucher.IsFinal ? (byte)1 : (byte)0;
        return Sha3Keccack.Current.CalculateHash(encoded);
    }

    /// <summary>keccak256("\x19\x01" ‖ domainSeparator ‖ structHash): what an EIP-712 signer signs in this escrow's domain.</summary>
    private byte[] TypedDataDigest(byte[] structHash)
    {
        var message = new byte[66];
        message[0] = 0x19;
        message[1] = 0x01;
        DomainSeparator.CopyTo(message, 2);
        structHash.CopyTo(message, 34);
        return Sha3Keccack.Current.CalculateHash(message);
    }

    private static readonly byte[] VoucherTypeHash =
        Sha3Keccack.Current.CalculateHash(System.Text.Encoding.UTF8.GetBytes("Voucher(uint256 leaseId,uint256 channel,uint256 amount,bool isFinal)"));

    private static readonly byte[] BundleTypeHash = Sha3Keccack.Current.CalculateHash(System.Text.Encoding.UTF8.GetBytes(
        "VoucherBundle(Voucher[] vouchers)Voucher(uint256 leaseId,uint256 channel,uint256 amount,bool isFinal)"));

    private static void WriteWord(BigInteger value, Span<byte> word)
    {
        var length = value.Sign < 0 ? int.MaxValue : value.GetByteCount(isUnsigned: true);
        if (length > 32) throw new ArgumentOutOfRangeException(nameof(value), value, "A uint256 is between 0 and 2^256 - 1.");
        word.Clear();
        value.TryWriteBytes(word[(32 - length)..], out _, isUnsigned: true, isBigEndian: true);
    }

    /// <summary>
    /// The digest a session key signs to consent to sign the vouchers of <paramref name="tenant"/>'s lease
    /// <paramref name="leaseId"/> on the session key's channel <paramref name="channel"/>:
    /// <c>SessionKey(address tenant,uint256 leaseId,uint256 channel)</c> in this escrow's domain, the contract's
    /// <c>hashSessionKey</c>.
    /// </summary>
    public byte[] SessionKeyDigest(string tenant, Guid leaseId, uint channel)
    {
        var structHash = Sha3Keccack.Current.CalculateHash(
            SessionKeyTypeHash
                .Concat(Word(tenant.HexToByteArray()))
                .Concat(Word(LeaseIds.ToChainId(leaseId).ToByteArray(isUnsigned: true, isBigEndian: true)))
                .Concat(Word(new BigInteger(channel).ToByteArray(isUnsigned: true, isBigEndian: true)))
                .ToArray());
        return TypedDataDigest(structHash);
    }

    /// <summary>
    /// The session key's consent to sign for <paramref name="tenant"/>'s lease on the key's channel <paramref name="channel"/>,
    /// for <c>openLeaseWithSessionKey</c>.
    /// </summary>
    public Escrow.SessionKeyConsent SignSessionKeyConsent(string sessionPrivateKey, string tenant, Guid leaseId, uint channel)
    {
        var (r, vs) = EthereumSignature.ToCompact(EthereumSignature.SignCompact(SessionKeyDigest(tenant, leaseId, channel), sessionPrivateKey))!.Value;
        return new Escrow.SessionKeyConsent(EthereumSignature.AddressOf(sessionPrivateKey), channel, r, vs);
    }

    private static readonly byte[] SessionKeyTypeHash =
        Sha3Keccack.Current.CalculateHash(System.Text.Encoding.UTF8.GetBytes("SessionKey(address tenant,uint256 leaseId,uint256 channel)"));

    private static byte[] Word(byte[] value)
    {
        var word = new byte[32];
        value.CopyTo(word, 32 - value.Length);
        return word;
    }

    private TypedData<Domain> NewTypedData() => new()
    {
        Domain = new Domain
        {
            Name = DomainName,
            Version = DomainVersion,
            ChainId = ChainId,
            VerifyingContract = EscrowAddress,
        },
        Types = Types,
        PrimaryType = PrimaryType,
    };
}
