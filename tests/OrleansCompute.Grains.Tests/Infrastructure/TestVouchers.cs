// How a tenant's wallet signs the escrow contract's EIP-712 voucher (contracts/src/LeaseEscrow.sol), hashed here
// from the contract's definition rather than through the market's VoucherSigner, so the tests check that signer too:
// Voucher(uint256 leaseId,uint256 channel,uint256 amount,bool isFinal) in the domain ("OrleansCompute LeaseEscrow", "5",
// chain id, escrow).
using System.Globalization;
using System.Numerics;
using System.Text;
using Nethereum.Signer;
using Nethereum.Util;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Grains.Tests.Infrastructure;

public static class TestVouchers
{
    /// <summary>The chain and escrow contract the market under test settles on.</summary>
    public const long ChainId = 31337;
    public const string Escrow = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

    private static readonly MessageSigner Signer = new();

    /// <param name="channel">The signer's escrow channel; the test market funds every lease on channel 0.</param>
    public static SignedVoucher Sign(EthECKey key, Guid leaseId, Credits amount, bool isFinal = true,
        long chainId = ChainId, string escrow = Escrow, uint channel = 0) =>
        new(leaseId, channel, amount, isFinal, Signer.Sign(Digest(leaseId, channel, amount, isFinal, chainId, escrow), key));

    public static byte[] Digest(Guid leaseId, uint channel, Credits amount, bool isFinal, long chainId, string escrow) =>
        Keccak([0x19, 0x01], DomainSeparator(chainId, escrow), VoucherStructHash(leaseId, channel, amount, isFinal));

    /// <summary>
    /// Vouchers for several leases (channel 0) signed once, as the bundle
    /// <c>VoucherBundle(Voucher[] vouchers)</c>; each member carries the signature and the packed items
    /// leaseId (16) | channel (4) | isFinal (1) | amount (6).
    /// </summary>
    public static IReadOnlyList<SignedVoucher> SignBundle(EthECKey key, params (Guid LeaseId, Credits Amount, bool IsFinal)[] vouchers)
    {
        var arrayHash = Keccak([.. vouchers.Select(v => VoucherStructHash(v.LeaseId, 0, v.Amount, v.IsFinal))]);
        var structHash = Keccak(
            Keccak("VoucherBundle(Voucher[] vouchers)Voucher(uint256 leaseId,uint256 channel,uint256 amount,bool isFinal)"), arrayHash);
        var signature = Signer.Sign(Keccak([0x19, 0x01], DomainSeparator(ChainId, Escrow), structHash), key);
        var items = vouchers.SelectMany(v => Word(LeaseIds.ToChainId(v.LeaseId))[16..]
            .Concat(new byte[4]).Append(v.IsFinal ? (byte)1 : (byte)0).Concat(Word(v.Amount.Units)[26..]));
        var bundle = "0x" + Convert.ToHexStringLower(items.ToArray());
        return vouchers.Select(v => new SignedVoucher(v.LeaseId, 0, v.Amount, v.IsFinal, signature, bundle)).ToList();
    }

    private static byte[] DomainSeparator(long chainId, string escrow) => Keccak(
        Keccak("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
        Keccak("OrleansCompute LeaseEscrow"),
        Keccak("5"),
        Word(chainId),
        Word(BigInteger.Parse("0" + escrow[2..], NumberStyles.HexNumber)));

    private static byte[] VoucherStructHash(Guid leaseId, uint channel, Credits amount, bool isFinal) => Keccak(
        Keccak("Voucher(uint256 leaseId,uint256 channel,uint256 amount,bool isFinal)"),
        Word(LeaseIds.ToChainId(leaseId)),
        Word(channel),
        Word(amount.Units),
        Word(isFinal ? 1 : 0));

    private static byte[] Keccak(string text) => Sha3Keccack.Current.CalculateHash(Encoding.UTF8.GetBytes(text));

    private static byte[] Keccak(params byte[][] parts) => Sha3Keccack.Current.CalculateHash(parts.SelectMany(p => p).ToArray());

    private static byte[] Word(BigInteger value)
    {
        var bytes = value.ToByteArray(isUnsigned: true, isBigEndian: true);
        var word = new byte[32];
        bytes.CopyTo(word, 32 - bytes.Length);
        return word;
    }
}
