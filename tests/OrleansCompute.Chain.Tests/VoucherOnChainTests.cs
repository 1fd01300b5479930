using System.Numerics;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Chain.Tests.Fixtures;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>The C# voucher signer and the contract must agree bit for bit.</summary>
[Collection(ChainCollection.Name)]
public sealed class VoucherOnChainTests(ChainFixture chain)
{
    public static TheoryData<string, string, bool> Vouchers => new()
    {
        { "00000000-0000-0000-0000-000000000001", "0", false },
        { "6f9619ff-8b86-d011-b42d-00cf4fc964ff", "1", true },
        { "ffffffff-ffff-ffff-ffff-ffffffffffff", "340282366920938463463374607431768211455", false },
    };

    [Theory]
    [MemberData(nameof(Vouchers))]
    public async Task The_csharp_digest_equals_the_contracts_hashVoucher(string leaseId, string amount, bool isFinal)
    {
        var voucher = new Voucher { LeaseId = LeaseIds.ToChainId(Guid.Parse(leaseId)), Amount = BigInteger.Parse(amount), IsFinal = isFinal };

        var onChain = await chain.Escrow.HashVoucherAsync(voucher);

        Assert.Equal(Convert.ToHexString(onChain), Convert.ToHexString(chain.Vouchers.Digest(voucher)));
    }

    [Fact]
    public async Task The_escrows_eip712_domain_is_the_one_vouchers_are_signed_for()
    {
        var domain = await chain.Escrow.GetEip712DomainAsync();

        Assert.Equal(VoucherSigner.DomainName, domain.Name);
        Assert.Equal(VoucherSigner.DomainVersion, domain.Version);
        Assert.Equal(ChainFixture.ChainId, (long)domain.ChainId);
        Assert.Equal(chain.Contracts.EscrowAddress, domain.VerifyingContract, ignoreCase: true);
    }

    [Fact]
    public async Task A_voucher_signed_in_csharp_settles_on_chain()
    {
        var deposit = Credits.FromCredits(50m);
        var leaseId = await chain.OpenLeaseAsync(tenant: 0, provider: 0, deposit);
        var voucher = chain.SignVoucher(tenant: 0, leaseId, Credits.FromCredits(20m), isFinal: false);
        Assert.Equal(chain.Tenants[0].Address, chain.Vouchers.RecoverSigner(voucher));

        await chain.Escrow.SettleAsync(chain.Operator, voucher);

        var lease = await chain.Escrow.GetLeaseAsync(leaseId);
        Assert.NotNull(lease);
        Assert.Equal(Credits.FromCredits(20m), lease.Paid);
        Assert.False(lease.Closed);
        await chain.AssertConservedAsync();
    }
}
