using System.Numerics;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Tests.Fixtures;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>Every rejection surfaces as the contract's named custom error with its arguments, never a generic failure.</summary>
[Collection(ChainCollection.Name)]
public sealed class RevertTests(ChainFixture chain)
{
    [Fact]
    public async Task A_voucher_above_the_deposit_reverts_with_ExceedsDeposit()
    {
        var leaseId = await chain.OpenLeaseAsync(tenant: 0, provider: 0, Credits.FromCredits(10m));
        var voucher = chain.SignVoucher(tenant: 0, leaseId, Credits.FromCredits(10.000001m), isFinal: true);

        var revert = await Assert.ThrowsAsync<ChainRevertException>(() => chain.Escrow.SettleAsync(chain.Operator, voucher));

        Assert.Equal("ExceedsDeposit", revert.ErrorName);
        Assert.Contains("ExceedsDeposit", revert.Message);
        var error = Assert.IsType<ExceedsDepositError>(revert.Error);
        Assert.Equal(LeaseIds.ToChainId(leaseId), error.LeaseId);
        Assert.Equal(new BigInteger(10_000_001), error.Amount);
        Assert.Equal(new BigInteger(10_000_000), error.Deposit);
        Assert.Equal(new BigInteger(10_000_000), revert["deposit"]);
        Assert.Null(revert.TransactionHash);
    }

    [Fact]
    public async Task An_older_voucher_reverts_with_StaleVoucher()
    {
        var leaseId = await chain.OpenLeaseAsync(tenant: 0, provider: 0, Credits.FromCredits(10m));
        var older = chain.SignVoucher(tenant: 0, leaseId, Credits.FromCredits(3m), isFinal: false);
        var newer = chain.SignVoucher(tenant: 0, leaseId, Credits.FromCredits(4m), isFinal: false);
        await chain.Escrow.SettleAsync(chain.Operator, newer);

        var revert = await Assert.ThrowsAsync<ChainRevertException>(() => chain.Escrow.SettleAsync(chain.Operator, older));

        Assert.Equal("StaleVoucher", revert.ErrorName);
        var error = Assert.IsType<StaleVoucherError>(revert.Error);
        Assert.Equal(new BigInteger(3_000_000), error.Amount);
        Assert.Equal(new BigInteger(4_000_000), error.Paid);
    }

    [Fact]
    public async Task A_voucher_signed_by_someone_else_names_a_lease_that_does_not_exist()
    {
        var leaseId = await chain.OpenLeaseAsync(tenant: 0, provider: 0, Credits.FromCredits(10m));
        var forged = chain.SignVoucher(tenant: 1, leaseId, Credits.FromCredits(10m), isFinal: true);

        var revert = await Assert.ThrowsAsync<ChainRevertException>(() => chain.Escrow.SettleAsync(chain.Operator, forged));

        Assert.Equal("UnknownLease", revert.ErrorName);
        var error = Assert.IsType<UnknownLeaseError>(revert.Error);
        Assert.Equal(chain.Tenants[1].Address, error.Signer, ignoreCase: true);
        Assert.Equal(LeaseIds.ToChainId(leaseId), error.LeaseId);
    }

    [Fact]
    public async Task A_signature_that_is_not_hex_reverts_with_BadSignature()
    {
        var leaseId = await chain.OpenLeaseAsync(tenant: 0, provider: 0, Credits.FromCredits(10m));
        var voucher = chain.SignVoucher(tenant: 0, leaseId, Credits.FromCredits(1m), isFinal: false) with { Signature = "garbage" };

        var revert = await Assert.ThrowsAsync<ChainRevertException>(() => chain.Escrow.SettleAsync(chain.Operator, voucher));

        Assert.Equal("BadSignature", revert.ErrorName);
    }

    [Fact]
    public async Task Opening_on_a_channel_with_an_open_lease_reverts_with_LeaseExists_and_another_tenant_cannot_take_it()
    {
        var leaseId = Guid.NewGuid();
        var expiry = (await chain.ChainNowAsync()).AddHours(1);
        // Another tenant opening the same id first gets a lease of its own: channels are per signer.
        var theirs = await chain.Escrow.OpenLeaseAsync(chain.Tenants[1], leaseId, chain.Providers[0].Address, Credits.FromCredits(1m), expiry);
        var ours = await chain.Escrow.OpenLeaseAsync(chain.Tenants[0], leaseId, chain.Providers[0].Address, Credits.FromCredits(1m), expiry);

        var revert = await Assert.ThrowsAsync<ChainRevertException>(() =>
            chain.Escrow.OpenLeaseAsync(chain.Tenants[0], Guid.NewGuid(), chain.Providers[0].Address, Credits.FromCredits(1m), expiry, channel: ours.Channel));

        Assert.Equal("LeaseExists", revert.ErrorName);
        Assert.Equal(chain.Tenants[0].Address, (await chain.Escrow.GetLeaseAsync(leaseId, chain.Tenants[0].Address, ours.Channel))!.Tenant);
        Assert.Equal(chain.Tenants[1].Address, (await chain.Escrow.GetLeaseAsync(leaseId, chain.Tenants[1].Address, theirs.Channel))!.Tenant);
    }

    [Fact]
    public async Task Opening_a_lease_that_expired_already_reverts_with_BadExpiry()
    {
        var past = (await chain.ChainNowAsync()).AddMinutes(-1);

        var revert = await Assert.ThrowsAsync<ChainRevertException>(() =>
            chain.Escrow.OpenLeaseAsync(chain.Tenants[0], Guid.NewGuid(), chain.Providers[0].Address, Credits.FromCredits(1m), past));

        Assert.Equal("BadExpiry", revert.ErrorName);
    }

    [Fact]
    public async Task Opening_a_lease_without_the_credits_reverts_with_ERC20InsufficientBalance()
    {
        using var poor = new Signing.TransactionSender(chain.Rpc, await chain.NewFundedKeyAsync(), ChainFixture.ChainId);
        var expiry = (await chain.ChainNowAsync()).AddHours(1);

        var revert = await Assert.ThrowsAsync<ChainRevertException>(() =>
            chain.Escrow.OpenLeaseAsync(poor, Guid.NewGuid(), chain.Providers[1].Address, Credits.FromCredits(1m), expiry));

        Assert.Equal("ERC20InsufficientBalance", revert.ErrorName);
    }

    [Fact]
    public async Task Opening_a_lease_above_the_largest_deposit_reverts_with_DepositTooLarge()
    {
        var expiry = (await chain.ChainNowAsync()).AddHours(1);
        var tooMuch = Escrow.EscrowBatch.MaxAmount + 1;

        var revert = await Assert.ThrowsAsync<ChainRevertException>(() =>
            chain.Escrow.OpenLeaseAsync(chain.Tenants[0], Guid.NewGuid(), chain.Providers[1].Address, CreditsOnChain.FromUnits(tooMuch), expiry));

        Assert.Equal("DepositTooLarge", revert.ErrorName);
        Assert.Equal(tooMuch, Assert.IsType<DepositTooLargeError>(revert.Error).Deposit);
    }

    [Fact]
    public async Task Minting_by_anyone_but_the_owner_reverts_with_OwnableUnauthorizedAccount()
    {
        var revert = await Assert.ThrowsAsync<ChainRevertException>(() =>
            chain.Escrow.Credit.MintAsync(chain.Operator, chain.Operator.Address, Credits.FromCredits(1m)));

        Assert.Equal("OwnableUnauthorizedAccount", revert.ErrorName);
        Assert.Equal(chain.Operator.Address, (string?)revert["account"], ignoreCase: true);
    }

    [Fact]
    public async Task Opening_a_lease_while_paused_reverts_with_Paused_and_settling_goes_on()
    {
        var leaseId = await chain.OpenLeaseAsync(tenant: 2, provider: 1, Credits.FromCredits(2m));
        var expiry = (await chain.ChainNowAsync()).AddHours(1);
        await chain.Escrow.SetPausedAsync(chain.Deployer, paused: true);
        try
        {
            var revert = await Assert.ThrowsAsync<ChainRevertException>(() =>
                chain.Escrow.OpenLeaseAsync(chain.Tenants[2], Guid.NewGuid(), chain.Providers[1].Address, Credits.FromCredits(1m), expiry));
            Assert.Equal("Paused", revert.ErrorName);

            await chain.Escrow.SettleAsync(chain.Operator, chain.SignVoucher(tenant: 2, leaseId, Credits.FromCredits(1m), isFinal: true));
            Assert.True((await chain.GetLeaseAsync(2, leaseId))!.Closed);
        }
        finally
        {
            await chain.Escrow.SetPausedAsync(chain.Deployer, paused: false);
        }
    }

    [Fact]
    public async Task Setting_a_fee_above_the_cap_reverts_with_FeeTooHigh()
    {
        var revert = await Assert.ThrowsAsync<ChainRevertException>(() => chain.Escrow.SetFeeAsync(chain.Deployer, 1_001));

        Assert.Equal("FeeTooHigh", revert.ErrorName);
        Assert.Equal(ChainFixture.FeeBps, await chain.Escrow.GetFeeBpsAsync());
    }

    [Fact]
    public async Task Withdrawing_nothing_reverts_with_NothingToWithdraw()
    {
        var revert = await Assert.ThrowsAsync<ChainRevertException>(() => chain.Escrow.WithdrawAsync(chain.Tenants[3]));

        Assert.Equal("NothingToWithdraw", revert.ErrorName);
    }
}
