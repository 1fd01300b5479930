using System.Numerics;
using Nethereum.ABI.EIP712;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Util;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Contracts.LeaseEscrow;

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
    public const string DomainVersion = "3";
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
    public byte[] Digest(Voucher voucher) =>
        Sha3Keccack.Current.CalculateHash(Eip712TypedDataEncoder.Current.EncodeTypedData(voucher, NewTypedData()));

    public string Sign(string tenantPrivateKey, Voucher voucher) => EthereumSignature.SignCompact(Digest(voucher), tenantPrivateKey);

    /// <summary>Signs "for lease <paramref name="leaseId"/> on my channel <paramref name="channel"/> I owe <paramref name="amount"/> in total".</summary>
    public SignedVoucher Sign(string tenantPrivateKey, Guid leaseId, uint channel, Credits amount, bool isFinal) =>
        new(leaseId, channel, amount, isFinal, Sign(tenantPrivateKey, ToChainVoucher(leaseId, channel, amount, isFinal)));

    /// <returns>The signer's checksummed address, or null when the signature is malformed or would not pass the contract's checks.</returns>
    public string? RecoverSigner(SignedVoucher voucher) =>
        voucher.Amount.Units < 0 ? null : RecoverSigner(ToChainVoucher(voucher), voucher.Signature);

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
        return Sha3Keccack.Current.CalculateHash(new byte[] { 0x19, 0x01 }.Concat(DomainSeparator).Concat(structHash).ToArray());
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
