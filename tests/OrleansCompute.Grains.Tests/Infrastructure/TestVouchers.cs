// How a tenant's wallet signs the escrow contract's EIP-712 voucher (contracts/src/LeaseEscrow.sol), hashed here
// from the contract's definition rather than through the market's VoucherSigner, so the tests check that signer too:
// Voucher(uint256 leaseId,uint256 channel,uint256 amount,bool isFinal) in the domain ("OrleansCompute LeaseEscrow", "3",
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

    public static byte[] Digest(Guid leaseId, uint channel, Credits amount, bool isFinal, long chainId, string escrow)
    {
        var domainSeparator = Keccak(
            Keccak("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
            Keccak("OrleansCompute LeaseEscrow"),
            Keccak("3"),
            Word(chainId),
            Word(BigInteger.Parse("0" + escrow[2..], NumberStyles.HexNumber)));
        var structHash = Keccak(
            Keccak("Voucher(uint256 leaseId,uint256 channel,uint256 amount,bool isFinal)"),
            Word(LeaseIds.ToChainId(leaseId)),
            Word(channel),
            Word(amount.Units),
            Word(isFinal ? 1 : 0));
        return Keccak([0x19, 0x01], domainSeparator, structHash);
    }

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
