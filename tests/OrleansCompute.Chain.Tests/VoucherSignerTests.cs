using System.Numerics;
using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Signing;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>Voucher signatures without a chain: what recovers, and what must not.</summary>
public sealed class VoucherSignerTests
{
    private const string Escrow = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    private static readonly DevAccount Tenant = DevAccounts.Tenants[0];
    private readonly VoucherSigner _signer = new(31337, Escrow);

    [Fact]
    public void A_signed_voucher_recovers_its_tenant()
    {
        var voucher = _signer.Sign(Tenant.PrivateKey, Guid.NewGuid(), 7, Credits.FromCredits(12.5m), isFinal: false);

        Assert.Equal(Tenant.Address, _signer.RecoverSigner(voucher));
    }

    [Fact]
    public void A_signature_is_the_64_byte_compact_form_and_the_65_byte_form_of_it_recovers_the_same()
    {
        var voucher = _signer.Sign(Tenant.PrivateKey, Guid.NewGuid(), 7, Credits.FromUnits(1), isFinal: true);

        Assert.StartsWith("0x", voucher.Signature);
        var compact = Convert.FromHexString(voucher.Signature[2..]);
        Assert.Equal(64, compact.Length);
        Assert.Equal(Tenant.Address, _signer.RecoverSigner(voucher with { Signature = "0x" + Convert.ToHexString(Expand(compact)) }));
    }

    /// <summary>EIP-2098 r||vs to r||s||v.</summary>
    private static byte[] Expand(byte[] compact)
    {
        var full = new byte[65];
        compact.CopyTo(full, 0);
        full[32] &= 0x7F;
        full[64] = (byte)(27 + (compact[32] >> 7));
        return full;
    }

    [Fact]
    public void A_voucher_changed_after_signing_does_not_recover_the_tenant()
    {
        var voucher = _signer.Sign(Tenant.PrivateKey, Guid.NewGuid(), 7, Credits.FromCredits(10m), isFinal: false);

        Assert.NotEqual(Tenant.Address, _signer.RecoverSigner(voucher with { Amount = Credits.FromCredits(11m) }));
        Assert.NotEqual(Tenant.Address, _signer.RecoverSigner(voucher with { IsFinal = true }));
        Assert.NotEqual(Tenant.Address, _signer.RecoverSigner(voucher with { LeaseId = Guid.NewGuid() }));
        Assert.NotEqual(Tenant.Address, _signer.RecoverSigner(voucher with { Channel = 8 }));
    }

    [Fact]
    public void A_voucher_for_another_chain_or_escrow_does_not_recover_the_tenant()
    {
        var voucher = _signer.Sign(Tenant.PrivateKey, Guid.NewGuid(), 7, Credits.FromCredits(10m), isFinal: true);

        Assert.NotEqual(Tenant.Address, new VoucherSigner(1, Escrow).RecoverSigner(voucher));
        Assert.NotEqual(Tenant.Address, new VoucherSigner(31337, "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512").RecoverSigner(voucher));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0x")]
    [InlineData("not hex")]
    [InlineData("0x1234")]
    public void A_malformed_signature_recovers_nobody(string signature)
    {
        var voucher = new Abstractions.Settlement.SignedVoucher(Guid.NewGuid(), 0, Credits.FromUnits(5), false, signature);

        Assert.Null(_signer.RecoverSigner(voucher));
    }

    [Fact]
    public void A_signature_the_contract_would_reject_recovers_nobody()
    {
        var voucher = _signer.Sign(Tenant.PrivateKey, Guid.NewGuid(), 7, Credits.FromUnits(5), isFinal: false);
        var bytes = Expand(Convert.FromHexString(voucher.Signature[2..]));

        var zeroOneV = (byte[])bytes.Clone();
        zeroOneV[64] -= 27;
        Assert.Null(_signer.RecoverSigner(voucher with { Signature = "0x" + Convert.ToHexString(zeroOneV) }));

        // The same signature with s' = n - s is valid ECDSA but malleable; OpenZeppelin refuses it, so do we.
        var n = BigInteger.Parse("0FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", System.Globalization.NumberStyles.HexNumber);
        var s = new BigInteger(bytes.AsSpan(32, 32), isUnsigned: true, isBigEndian: true);
        var highS = (byte[])bytes.Clone();
        (n - s).ToByteArray(isUnsigned: true, isBigEndian: true).CopyTo(highS.AsSpan(32, 32));
        highS[64] = (byte)(bytes[64] == 27 ? 28 : 27);
        Assert.Null(_signer.RecoverSigner(voucher with { Signature = "0x" + Convert.ToHexString(highS) }));

        // In the compact form, an s above half the order fits below the v bit: refused the same way.
        var compactHighS = new byte[64];
        bytes.AsSpan(0, 32).CopyTo(compactHighS);
        (n / 2 + 1).ToByteArray(isUnsigned: true, isBigEndian: true).CopyTo(compactHighS.AsSpan(32, 32));
        Assert.Null(_signer.RecoverSigner(voucher with { Signature = "0x" + Convert.ToHexString(compactHighS) }));
    }

    [Fact]
    public void Recovery_agrees_with_nethereums_reference_recovery_for_many_keys_and_vouchers()
    {
        var reference = new Nethereum.Signer.MessageSigner();
        for (var i = 0; i < 50; i++)
        {
            var key = Nethereum.Signer.EthECKey.GenerateKey();
            var voucher = _signer.Sign(key.GetPrivateKey(), Guid.NewGuid(), 7, Credits.FromUnits(Random.Shared.NextInt64(0, long.MaxValue)), i % 2 == 0);
            var digest = _signer.Digest(VoucherSigner.ToChainVoucher(voucher));

            var recovered = _signer.RecoverSigner(voucher);

            Assert.Equal(key.GetPublicAddress(), recovered);
            Assert.Equal(reference.EcRecover(digest, "0x" + Convert.ToHexString(Expand(Convert.FromHexString(voucher.Signature[2..])))), recovered);
            Assert.Equal(key.GetPublicAddress(), _signer.RecoverSigner(voucher with { Signature = reference.Sign(digest, key) }));
        }
    }
}
