using System.Numerics;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Escrow;
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

        var lease = await chain.GetLeaseAsync(0, leaseId);
        Assert.NotNull(lease);
        Assert.Equal(Credits.FromCredits(20m), lease.Paid);
        Assert.False(lease.Closed);
        await chain.AssertConservedAsync();
    }

    [Fact]
    public async Task The_csharp_lease_key_and_session_key_digest_equal_the_contracts()
    {
        var leaseId = Guid.NewGuid();
        var tenant = chain.Tenants[2].Address;

        Assert.Equal(EscrowBatch.LeaseKey(tenant, leaseId), "0x" + Convert.ToHexStringLower(await chain.Escrow.LeaseKeyAsync(tenant, leaseId)));
        Assert.Equal(Convert.ToHexString(await chain.Escrow.HashSessionKeyAsync(tenant, leaseId)), Convert.ToHexString(chain.Vouchers.SessionKeyDigest(tenant, leaseId)));
    }

    [Fact]
    public async Task A_lease_opened_with_a_session_key_settles_vouchers_of_that_key_and_refunds_the_tenant()
    {
        var sessionKey = Nethereum.Signer.EthECKey.GenerateKey();
        var tenant = chain.Tenants[3];
        var leaseId = Guid.NewGuid();
        var consent = chain.Vouchers.SignSessionKeyConsent(sessionKey.GetPrivateKey(), tenant.Address, leaseId);
        var expiry = (await chain.ChainNowAsync()).AddHours(1);
        await chain.Escrow.ApproveAndOpenLeaseAsync(tenant, leaseId, chain.Providers[0].Address, Credits.FromCredits(10m), expiry, consent);
        var before = await chain.Escrow.Credit.BalanceOfAsync(tenant.Address);

        var byTenant = chain.SignVoucher(tenant: 3, leaseId, Credits.FromCredits(1m), isFinal: false);
        Assert.Equal("UnknownLease", (await Assert.ThrowsAsync<Rpc.ChainRevertException>(() => chain.Escrow.SettleAsync(chain.Operator, byTenant))).ErrorName);
        await chain.Escrow.SettleAsync(chain.Operator, chain.Vouchers.Sign(sessionKey.GetPrivateKey(), leaseId, Credits.FromCredits(4m), isFinal: true));

        var lease = await chain.Escrow.GetLeaseAsync(leaseId, sessionKey.GetPublicAddress());
        Assert.NotNull(lease);
        Assert.Equal(tenant.Address, lease.Tenant);
        Assert.Equal(sessionKey.GetPublicAddress(), lease.Signer);
        Assert.True(lease.Closed);
        Assert.Equal(before + Credits.FromCredits(6m), await chain.Escrow.Credit.BalanceOfAsync(tenant.Address));
        await chain.AssertConservedAsync();
    }
}
