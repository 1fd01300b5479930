using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Tests.Fixtures;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>Money through the escrow: open, settle in batches, refund, withdraw, with conservation checked at every step.</summary>
[Collection(ChainCollection.Name)]
public sealed class SettlementTests(ChainFixture chain)
{
    [Fact]
    public async Task A_batch_of_final_vouchers_pays_providers_less_the_fee_refunds_tenants_and_conserves_credits()
    {
        var settlement = new EscrowSettlement(chain.Operator, chain.Contracts.EscrowAddress);
        (int Tenant, int Provider, Credits Deposit, Credits Owed)[] leases =
        [
            (1, 0, Credits.FromCredits(100m), Credits.FromCredits(37.5m)),
            (2, 1, Credits.FromCredits(40m), Credits.FromCredits(40m)),
            (3, 1, Credits.FromCredits(10m), Credits.FromUnits(1)),
        ];
        var providersBefore = await Task.WhenAll(chain.Providers.Select(p => chain.Escrow.GetProviderBalanceAsync(p.Address)));
        var tenantsBefore = await Task.WhenAll(chain.Tenants.Select((_, t) => chain.TenantHoldsAsync(t)));
        var feesBefore = await chain.Escrow.GetFeesAccruedAsync();

        var ids = new List<Guid>();
        foreach (var lease in leases)
        {
            ids.Add(await chain.OpenLeaseAsync(lease.Tenant, lease.Provider, lease.Deposit));
            await chain.AssertConservedAsync();
        }
        var vouchers = leases.Select((lease, i) => chain.SignVoucher(lease.Tenant, ids[i], lease.Owed, isFinal: true)).ToArray();

        var receipt = await settlement.SettleBatchAsync(vouchers, CancellationToken.None);

        Assert.True(receipt.Succeeded, receipt.Error);
        Assert.Null(receipt.Error);
        Assert.Empty(receipt.Rejections!);
        Assert.StartsWith("0x", receipt.TransactionHash);
        Assert.True(receipt.BlockNumber > 0);
        await chain.AssertConservedAsync();

        for (var i = 0; i < leases.Length; i++)
        {
            var lease = await chain.GetLeaseAsync(leases[i].Tenant, ids[i]);
            Assert.NotNull(lease);
            Assert.True(lease.Closed);
            Assert.Equal(leases[i].Owed, lease.Paid);
            var tenant = leases[i].Tenant;
            // The rest went to the tenant's escrow balance: what it holds in all fell by what it owed only.
            Assert.Equal(tenantsBefore[tenant] - leases[i].Owed, await chain.TenantHoldsAsync(tenant));
        }
        // Provider 1's two leases are consecutive in the batch: one run, one fee on their sum.
        var run1 = Credits.FromCredits(40m) + Credits.FromUnits(1);
        Assert.Equal(providersBefore[0] + Credits.FromCredits(37.5m) - ChainFixture.Fee(Credits.FromCredits(37.5m)),
            await chain.Escrow.GetProviderBalanceAsync(chain.Providers[0].Address));
        Assert.Equal(providersBefore[1] + run1 - ChainFixture.Fee(run1), await chain.Escrow.GetProviderBalanceAsync(chain.Providers[1].Address));
        Assert.Equal(feesBefore + ChainFixture.Fee(Credits.FromCredits(37.5m)) + ChainFixture.Fee(run1), await chain.Escrow.GetFeesAccruedAsync());

        var walletBefore = await chain.Escrow.Credit.BalanceOfAsync(chain.Providers[1].Address);
        var owed = await chain.Escrow.GetProviderBalanceAsync(chain.Providers[1].Address);
        await chain.Escrow.WithdrawAsync(chain.Providers[1]);

        Assert.Equal(Credits.Zero, await chain.Escrow.GetProviderBalanceAsync(chain.Providers[1].Address));
        Assert.Equal(walletBefore + owed, await chain.Escrow.Credit.BalanceOfAsync(chain.Providers[1].Address));
        await chain.AssertConservedAsync();

        var fees = await chain.Escrow.GetFeesAccruedAsync();
        var adminBefore = await chain.Escrow.Credit.BalanceOfAsync(chain.Deployer.Address);
        await chain.Escrow.WithdrawFeesAsync(chain.Deployer, chain.Deployer.Address);
        Assert.Equal(adminBefore + fees, await chain.Escrow.Credit.BalanceOfAsync(chain.Deployer.Address));
        await chain.AssertConservedAsync();
    }

    [Fact]
    public async Task A_bad_voucher_is_reported_by_name_without_holding_back_the_rest_and_a_replay_pays_nothing()
    {
        var settlement = new EscrowSettlement(chain.Operator, chain.Contracts.EscrowAddress);
        var good = await chain.OpenLeaseAsync(tenant: 4, provider: 2, Credits.FromCredits(5m));
        var bad = await chain.OpenLeaseAsync(tenant: 4, provider: 2, Credits.FromCredits(5m));
        var batch = new[]
        {
            chain.SignVoucher(tenant: 4, good, Credits.FromCredits(5m), isFinal: true),
            chain.SignVoucher(tenant: 4, bad, Credits.FromCredits(6m), isFinal: true),
        };

        var receipt = await settlement.SettleBatchAsync(batch, CancellationToken.None);

        Assert.True(receipt.Succeeded, receipt.Error);
        Assert.Equal([new Abstractions.Settlement.SettlementRejection(bad, "ExceedsDeposit")], receipt.Rejections);
        Assert.True((await chain.GetLeaseAsync(4, good))!.Closed);
        Assert.Equal(Credits.Zero, (await chain.GetLeaseAsync(4, bad))!.Paid);

        var provider = await chain.Escrow.GetProviderBalanceAsync(chain.Providers[2].Address);
        var replay = await settlement.SettleBatchAsync([batch[0]], CancellationToken.None);

        Assert.True(replay.Succeeded);
        Assert.Empty(replay.Rejections!);
        Assert.Equal(provider, await chain.Escrow.GetProviderBalanceAsync(chain.Providers[2].Address));
        Assert.Equal("MalformedBatch", (await settlement.SettleBatchAsync([], CancellationToken.None)).Error);
        await chain.AssertConservedAsync();
    }

    [Fact]
    public async Task A_tenant_gets_the_whole_deposit_back_after_expiry_and_the_claim_window_and_not_before()
    {
        var deposit = Credits.FromCredits(25m);
        var tenant = chain.Tenants[2];
        var leaseId = await chain.OpenLeaseAsync(tenant: 2, provider: 2, deposit, lifetime: TimeSpan.FromMinutes(10));
        var channel = chain.ChannelOf(leaseId);
        var balanceAfterOpen = await chain.Escrow.GetTenantBalanceAsync(tenant.Address);

        var early = await Assert.ThrowsAsync<ChainRevertException>(() => chain.Escrow.RefundAsync(chain.Operator, leaseId, tenant.Address, channel));
        Assert.Equal("NotExpired", early.ErrorName);
        await chain.Cheats.IncreaseTimeAsync(TimeSpan.FromMinutes(11));
        var inWindow = await Assert.ThrowsAsync<ChainRevertException>(() => chain.Escrow.RefundAsync(chain.Operator, leaseId, tenant.Address, channel));
        Assert.Equal("NotExpired", inWindow.ErrorName);

        await chain.Cheats.IncreaseTimeAsync(ChainFixture.ClaimWindow);
        // The chain alone says where the lease is: its LeaseOpened event names the signer and channel (occ lease refund).
        var found = await chain.Escrow.FindOpenedAsync(leaseId, tenant.Address);
        Assert.Equal(tenant.Address, found!.Signer, ignoreCase: true);
        Assert.Equal((channel, deposit, false), (found.Channel, found.Deposit, found.Closed));
        Assert.Null(await chain.Escrow.FindOpenedAsync(leaseId, chain.Tenants[0].Address));
        await chain.Escrow.RefundAsync(chain.Operator, leaseId, tenant.Address, channel);

        Assert.Equal(balanceAfterOpen + deposit, await chain.Escrow.GetTenantBalanceAsync(tenant.Address));
        var lease = await chain.GetLeaseAsync(2, leaseId);
        Assert.True(lease!.Closed);
        Assert.Equal(Credits.Zero, lease.Paid);
        await chain.AssertConservedAsync();
    }

    [Fact]
    public async Task A_tenant_can_top_up_a_live_lease()
    {
        var leaseId = await chain.OpenLeaseAsync(tenant: 1, provider: 0, Credits.FromCredits(3m));

        await chain.Escrow.TopUpAsync(chain.Tenants[1], leaseId, chain.Tenants[1].Address, chain.ChannelOf(leaseId), Credits.FromCredits(2m));

        Assert.Equal(Credits.FromCredits(5m), (await chain.GetLeaseAsync(1, leaseId))!.Deposit);
        await chain.AssertConservedAsync();
    }

    [Fact]
    public async Task An_unknown_lease_reads_as_null()
    {
        // An id later than every lease the channel has held (a random one below its lease's would read as superseded).
        Assert.Null(await chain.GetLeaseAsync(0, Guid.CreateVersion7(DateTimeOffset.UtcNow.AddDays(1))));
    }
}
