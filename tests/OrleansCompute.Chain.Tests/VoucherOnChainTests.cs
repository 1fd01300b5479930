using System.Numerics;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Devnet;
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

        foreach (var channel in new uint[] { 0, 1, 77, uint.MaxValue })
        {
            Assert.Equal(EscrowBatch.LeaseKey(tenant, channel), "0x" + Convert.ToHexStringLower(await chain.Escrow.LeaseKeyAsync(tenant, channel)));
            Assert.Equal(Convert.ToHexString(await chain.Escrow.HashSessionKeyAsync(tenant, leaseId, channel)),
                Convert.ToHexString(chain.Vouchers.SessionKeyDigest(tenant, leaseId, channel)));
        }
    }

    [Fact]
    public async Task A_closed_channel_takes_a_newer_lease_whose_old_vouchers_pay_nothing()
    {
        var tenant = chain.Tenants[4];
        var expiry = (await chain.ChainNowAsync()).AddHours(1);
        var first = Guid.CreateVersion7();
        var opened = await chain.Escrow.OpenLeaseAsync(tenant, first, chain.Providers[1].Address, Credits.FromCredits(10m), expiry);
        var finalVoucher = chain.Vouchers.Sign(DevAccounts.Tenants[4].PrivateKey, first, opened.Channel, Credits.FromCredits(4m), isFinal: true);
        await chain.Escrow.SettleAsync(chain.Operator, finalVoucher);
        var refunded = await chain.Escrow.GetTenantBalanceAsync(tenant.Address);

        // The channel is free again, for a lease with a later id only; the new lease draws its deposit from the refund.
        var stale = await Assert.ThrowsAsync<Rpc.ChainRevertException>(() =>
            chain.Escrow.OpenLeaseAsync(tenant, first, chain.Providers[1].Address, Credits.FromCredits(1m), expiry, channel: opened.Channel));
        Assert.Equal("StaleLeaseId", stale.ErrorName);
        var second = Guid.CreateVersion7(DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(opened.Channel, await chain.Escrow.FindFreeChannelAsync(tenant.Address, second, opened.Channel));
        var reopened = await chain.Escrow.OpenLeaseAsync(tenant, second, chain.Providers[1].Address, Credits.FromCredits(5m), expiry, channel: opened.Channel);
        Assert.Equal(opened.Channel, reopened.Channel);
        Assert.Equal(refunded - Credits.FromCredits(5m), await chain.Escrow.GetTenantBalanceAsync(tenant.Address));

        // The first lease reads as closed and superseded; its old vouchers reach no open lease.
        var old = await chain.Escrow.GetLeaseAsync(first, tenant.Address, opened.Channel);
        Assert.True(old is { Closed: true, Superseded: true });
        var replay = chain.Vouchers.Sign(DevAccounts.Tenants[4].PrivateKey, first, opened.Channel, Credits.FromCredits(5m), isFinal: false);
        Assert.Equal("LeaseAlreadyClosed", (await Assert.ThrowsAsync<Rpc.ChainRevertException>(() => chain.Escrow.SettleAsync(chain.Operator, replay))).ErrorName);
        var current = await chain.Escrow.GetLeaseAsync(second, tenant.Address, opened.Channel);
        Assert.True(current is { Closed: false, Paid.Units: 0 });
        await chain.AssertConservedAsync();
    }

    [Fact]
    public async Task A_tenant_withdraws_its_escrow_balance_by_pull()
    {
        var tenant = chain.Tenants[4];
        await chain.Escrow.DepositAsync(tenant, Credits.FromCredits(3m));
        var inEscrow = await chain.Escrow.GetTenantBalanceAsync(tenant.Address);
        var inWallet = await chain.Escrow.Credit.BalanceOfAsync(tenant.Address);

        await chain.Escrow.WithdrawBalanceAsync(tenant);

        Assert.Equal(Credits.Zero, await chain.Escrow.GetTenantBalanceAsync(tenant.Address));
        Assert.Equal(inWallet + inEscrow, await chain.Escrow.Credit.BalanceOfAsync(tenant.Address));
        Assert.Equal("NothingToWithdraw", (await Assert.ThrowsAsync<Rpc.ChainRevertException>(() => chain.Escrow.WithdrawBalanceAsync(tenant))).ErrorName);
        await chain.AssertConservedAsync();
    }

    [Fact]
    public async Task A_lease_opened_with_a_session_key_settles_vouchers_of_that_key_and_refunds_the_tenant()
    {
        var sessionKey = Nethereum.Signer.EthECKey.GenerateKey();
        var tenant = chain.Tenants[3];
        var leaseId = Guid.NewGuid();
        var consent = chain.Vouchers.SignSessionKeyConsent(sessionKey.GetPrivateKey(), tenant.Address, leaseId, channel: 0);
        var expiry = (await chain.ChainNowAsync()).AddHours(1);
        var opened = await chain.Escrow.OpenLeaseAsync(tenant, leaseId, chain.Providers[0].Address, Credits.FromCredits(10m), expiry, consent);
        Assert.Equal(0u, opened.Channel);
        var before = await chain.Escrow.GetTenantBalanceAsync(tenant.Address);

        var byTenant = chain.Vouchers.Sign(DevAccounts.Tenants[3].PrivateKey, leaseId, 0, Credits.FromCredits(1m), isFinal: false);
        Assert.Equal("UnknownLease", (await Assert.ThrowsAsync<Rpc.ChainRevertException>(() => chain.Escrow.SettleAsync(chain.Operator, byTenant))).ErrorName);
        await chain.Escrow.SettleAsync(chain.Operator, chain.Vouchers.Sign(sessionKey.GetPrivateKey(), leaseId, 0, Credits.FromCredits(4m), isFinal: true));

        var lease = await chain.Escrow.GetLeaseAsync(leaseId, sessionKey.GetPublicAddress(), 0);
        Assert.NotNull(lease);
        Assert.Equal(tenant.Address, lease.Tenant);
        Assert.Equal(sessionKey.GetPublicAddress(), lease.Signer);
        Assert.True(lease.Closed);
        Assert.Equal(before + Credits.FromCredits(6m), await chain.Escrow.GetTenantBalanceAsync(tenant.Address));
        await chain.AssertConservedAsync();
    }
}
