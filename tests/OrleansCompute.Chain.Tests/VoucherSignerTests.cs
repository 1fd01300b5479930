using System.Numerics;
using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Devnet;
using Nethereum.ABI.EIP712;
using Nethereum.ABI.FunctionEncoding.Attributes;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Escrow;
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
    public void A_signature_whose_r_is_no_point_of_the_curve_or_not_below_its_order_recovers_nobody_and_throws_nothing()
    {
        var voucher = _signer.Sign(Tenant.PrivateKey, Guid.NewGuid(), 7, Credits.FromUnits(5), isFinal: false);
        static string Signature(BigInteger r, int v)
        {
            var bytes = new byte[65];
            r.ToByteArray(isUnsigned: true, isBigEndian: true).CopyTo(bytes.AsSpan(32 - r.GetByteCount(isUnsigned: true)));
            bytes[63] = 1; // s = 1: low, non-zero
            bytes[64] = (byte)v;
            return "0x" + Convert.ToHexString(bytes);
        }

        // r at or above the curve order: no signature at all.
        var n = BigInteger.Parse("0FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", System.Globalization.NumberStyles.HexNumber);
        Assert.Null(_signer.RecoverSigner(voucher with { Signature = Signature(n, 27) }));
        Assert.Null(_signer.RecoverSigner(voucher with { Signature = Signature(BigInteger.Pow(2, 256) - 1, 28) }));
        // Small r: about half are the x of no curve point (recovery fails); the rest recover some key, never the tenant.
        var recovered = Enumerable.Range(1, 40).SelectMany(r => new[] { 27, 28 }.Select(v => _signer.RecoverSigner(voucher with { Signature = Signature(r, v) }))).ToList();
        Assert.Contains(null, recovered);
        Assert.DoesNotContain(Tenant.Address, recovered);
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
    private static VoucherRequest Request(Guid leaseId, uint channel, Credits amount, bool isFinal) => new(leaseId, "", amount, isFinal, channel);

    [Fact]
    public void A_bundle_signed_once_recovers_its_signer_for_every_member()
    {
        var members = _signer.SignBundle(Tenant.PrivateKey,
            [Request(Guid.NewGuid(), 0, Credits.FromCredits(3m), true), Request(Guid.NewGuid(), 5, Credits.FromCredits(1.25m), false), Request(Guid.NewGuid(), 2, Credits.Zero, true)]);

        Assert.Equal(3, members.Count);
        Assert.Single(members.Select(m => (m.Signature, m.Bundle)).Distinct());
        Assert.All(members, member =>
        {
            Assert.Equal(Tenant.Address, _signer.RecoverSigner(member));
            Assert.True(_signer.IsInItsBundle(member));
        });
        // What the HTTP API carries: the member read back from its JSON is the same voucher, and still recovers.
        var json = System.Text.Json.JsonSerializer.Serialize(members[1], ApiJson.Options);
        Assert.Contains("\"bundle\":\"0x", json);
        Assert.Equal(members[1], System.Text.Json.JsonSerializer.Deserialize<SignedVoucher>(json, ApiJson.Options));
    }

    [Fact]
    public void A_voucher_its_bundle_does_not_hold_recovers_nobody()
    {
        var members = _signer.SignBundle(Tenant.PrivateKey,
            [Request(Guid.NewGuid(), 0, Credits.FromCredits(3m), true), Request(Guid.NewGuid(), 0, Credits.FromCredits(4m), true)]);
        var others = _signer.SignBundle(Tenant.PrivateKey,
            [Request(Guid.NewGuid(), 0, Credits.FromCredits(3m), true), Request(Guid.NewGuid(), 0, Credits.FromCredits(4m), true)]);

        foreach (var stranger in new[]
                 {
                     members[0] with { Amount = Credits.FromCredits(4m) },
                     members[0] with { IsFinal = false },
                     members[0] with { Channel = 1 },
                     members[0] with { LeaseId = Guid.NewGuid() },
                     members[0] with { Bundle = others[0].Bundle },
                     members[0] with { Bundle = members[0].Bundle![..^2] },
                 })
        {
            Assert.Null(_signer.RecoverSigner(stranger));
            Assert.False(_signer.IsInItsBundle(stranger));
        }
    }

    [Fact]
    public void A_bundle_with_one_amount_changed_after_signing_recovers_another_address()
    {
        var members = _signer.SignBundle(Tenant.PrivateKey,
            [Request(Guid.NewGuid(), 0, Credits.FromUnits(1_000), true), Request(Guid.NewGuid(), 0, Credits.FromUnits(2_000), true)]);
        var items = Convert.FromHexString(members[1].Bundle![2..]);
        items[2 * EscrowBatch.ItemSize - 1] = 0xFF; // the second item's amount, last byte
        var tamperedBundle = "0x" + Convert.ToHexStringLower(items);
        var tampered = members[1] with { Amount = Credits.FromUnits(2_000 - 0xD0 + 0xFF), Bundle = tamperedBundle };
        var untouched = members[0] with { Bundle = tamperedBundle };

        Assert.True(_signer.IsInItsBundle(tampered));
        var recovered = _signer.RecoverSigner(tampered);
        Assert.NotNull(recovered);
        Assert.NotEqual(Tenant.Address, recovered);
        Assert.Equal(recovered, _signer.RecoverSigner(untouched));
    }

    /// <summary>The bundle digest is computed by hand; Nethereum's general EIP-712 encoder must agree with it.</summary>
    [Fact]
    public void The_bundle_digest_is_the_eip712_digest_of_VoucherBundle()
    {
        var vouchers = Enumerable.Range(0, 4)
            .Select(i => VoucherSigner.ToChainVoucher(Guid.NewGuid(), (uint)i, Credits.FromUnits(Random.Shared.NextInt64(0, 1L << 48)), i % 2 == 0))
            .ToList();
        var typedData = new TypedData<Domain>
        {
            Domain = new Domain { Name = VoucherSigner.DomainName, Version = VoucherSigner.DomainVersion, ChainId = 31337, VerifyingContract = Escrow },
            Types = MemberDescriptionFactory.GetTypesMemberDescription(typeof(Domain), typeof(VoucherBundle), typeof(Voucher)),
            PrimaryType = "VoucherBundle",
        };

        var reference = Nethereum.Util.Sha3Keccack.Current.CalculateHash(
            Eip712TypedDataEncoder.Current.EncodeTypedData(new VoucherBundle { Vouchers = vouchers }, typedData));

        Assert.Equal(Convert.ToHexString(reference), Convert.ToHexString(_signer.BundleDigest(vouchers)));
    }

    /// <summary>The voucher digest is computed by hand too; Nethereum's general EIP-712 encoder must agree with it for any voucher.</summary>
    [Fact]
    public void The_voucher_digest_is_the_eip712_digest_of_Voucher()
    {
        var typedData = new TypedData<Domain>
        {
            Domain = new Domain { Name = VoucherSigner.DomainName, Version = VoucherSigner.DomainVersion, ChainId = 31337, VerifyingContract = Escrow },
            Types = MemberDescriptionFactory.GetTypesMemberDescription(typeof(Domain), typeof(Voucher)),
            PrimaryType = VoucherSigner.PrimaryType,
        };
        for (var i = 0; i < 64; i++)
        {
            var voucher = VoucherSigner.ToChainVoucher(Guid.NewGuid(), (uint)Random.Shared.Next(), Credits.FromUnits(Random.Shared.NextInt64(0, long.MaxValue)), i % 2 == 0);

            var reference = Nethereum.Util.Sha3Keccack.Current.CalculateHash(Eip712TypedDataEncoder.Current.EncodeTypedData(voucher, typedData));

            Assert.Equal(Convert.ToHexString(reference), Convert.ToHexString(_signer.Digest(voucher)));
        }
    }

    [Struct("VoucherBundle")]
    public sealed class VoucherBundle
    {
        [Parameter("tuple[]", "vouchers", 1, "Voucher[]")]
        public List<Voucher> Vouchers { get; set; } = [];
    }
}
