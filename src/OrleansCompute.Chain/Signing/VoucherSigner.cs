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
/// replayed elsewhere. The digest (Nethereum's EIP-712 encoder) equals the contract's <c>hashVoucher</c>;
/// signatures are 65-byte r||s||v with v 27/28, made and checked by <see cref="EthereumSignature"/>.
/// </summary>
public sealed class VoucherSigner : IVoucherVerifier
{
    public const string DomainName = "OrleansCompute LeaseEscrow";
    public const string DomainVersion = "1";
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

    public string Sign(string tenantPrivateKey, Voucher voucher) => EthereumSignature.Sign(Digest(voucher), tenantPrivateKey);

    /// <summary>Signs "for lease <paramref name="leaseId"/> I owe <paramref name="amount"/> in total".</summary>
    public SignedVoucher Sign(string tenantPrivateKey, Guid leaseId, Credits amount, bool isFinal) =>
        new(leaseId, amount, isFinal, Sign(tenantPrivateKey, ToChainVoucher(leaseId, amount, isFinal)));

    /// <returns>The signer's checksummed address, or null when the signature is malformed or would not pass the contract's checks.</returns>
    public string? RecoverSigner(SignedVoucher voucher) =>
        voucher.Amount.Units < 0 ? null : RecoverSigner(ToChainVoucher(voucher), voucher.Signature);

    public string? RecoverSigner(Voucher voucher, string signature) => EthereumSignature.Recover(Digest(voucher), signature);

    public static Voucher ToChainVoucher(SignedVoucher voucher) => ToChainVoucher(voucher.LeaseId, voucher.Amount, voucher.IsFinal);

    public static Voucher ToChainVoucher(Guid leaseId, Credits amount, bool isFinal) => new()
    {
        LeaseId = LeaseIds.ToChainId(leaseId),
        Amount = CreditsOnChain.ToUnits(amount),
        IsFinal = isFinal,
    };

    public static byte[] SignatureBytes(string signature) => signature.HexToByteArray();

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
