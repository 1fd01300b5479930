using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Inference;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>Vouchers a tenant signed once for several leases: what the leases accept and how settlement sends them.</summary>
[Collection(MarketClusterCollection.Name)]
public sealed class BundledVoucherTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);
    private static RecordingEscrowSettlement Chain => ClusterFixture.Chain;

    private Task<SettlementItem> SubmittedAsync(PoolDefinition pool, Guid leaseId) =>
        Eventually.UntilAsync(
            async () => (await _market.Settlement(pool).GetAsync()).Items.SingleOrDefault(i => i.Voucher.LeaseId == leaseId)!,
            item => item is { Status: SettlementItemStatus.Submitted }, what: $"the voucher of {leaseId} to be submitted");

    [Fact]
    public async Task Final_vouchers_signed_as_one_bundle_are_accepted_and_go_on_chain_in_one_transaction()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var first = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var second = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var members = tenant.SignBundle(first, second);

        var accepted = await Task.WhenAll(
            _market.Lease(first.Id).SubmitFinalVoucherAsync(tenant.Address, members[0]),
            _market.Lease(second.Id).SubmitFinalVoucherAsync(tenant.Address, members[1]));

        Assert.Equal(members, accepted.Select(l => l.FinalVoucher));
        Assert.All(accepted, l => Assert.Equal(LeaseReasons.FinalVoucherAccepted, l.History[^1].Reason));
        var items = new[] { await SubmittedAsync(pool, first.Id), await SubmittedAsync(pool, second.Id) };
        Assert.Equal(items[0].TransactionHash, items[1].TransactionHash);
        var attempt = Assert.Single(Chain.AttemptsFor(first.Id).Concat(Chain.AttemptsFor(second.Id)).Distinct());
        Assert.Equal(items[0].TransactionHash, attempt.Receipt!.TransactionHash);
    }

    [Fact]
    public async Task A_member_queued_after_its_bundle_went_on_chain_is_recorded_in_that_transaction_and_not_sent_again()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var first = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var second = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var members = tenant.SignBundle(first, second);
        await _market.Lease(first.Id).SubmitFinalVoucherAsync(tenant.Address, members[0]);
        var sent = await SubmittedAsync(pool, first.Id);

        await _market.Lease(second.Id).SubmitFinalVoucherAsync(tenant.Address, members[1]);

        var recorded = await SubmittedAsync(pool, second.Id);
        Assert.Equal(sent.TransactionHash, recorded.TransactionHash);
        Assert.Empty(Chain.AttemptsFor(second.Id));
    }

    [Fact]
    public async Task A_rejection_of_a_bundle_member_the_batch_does_not_hold_is_left_to_that_member()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var sent = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var notSent = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var members = tenant.SignBundle(sent, notSent);
        Chain.RejectFor(notSent.Id, "ExceedsDeposit");

        await _market.Lease(sent.Id).SubmitFinalVoucherAsync(tenant.Address, members[0]);

        var item = await SubmittedAsync(pool, sent.Id);
        var attempt = Assert.Single(Chain.AttemptsFor(sent.Id));
        Assert.Equal([new SettlementRejection(notSent.Id, "ExceedsDeposit")], attempt.Receipt!.Rejections);
        Assert.Null(item.Error);
        Assert.DoesNotContain((await _market.Settlement(pool).GetAsync()).Items, i => i.Voucher.LeaseId == notSent.Id);
        Assert.DoesNotContain((await _market.GetLeaseAsync(notSent.Id)).History, t => t.Reason == LeaseReasons.SettlementRejected);
    }

    [Fact]
    public async Task A_bundle_that_does_not_hold_the_voucher_is_refused_naming_the_bundle_and_nothing_is_queued()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 3);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var others = tenant.SignBundle(await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool)), await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool)));
        var own = tenant.Sign(ended.Id, ended.AmountOwed);

        foreach (var voucher in new[] { own with { Signature = others[0].Signature, Bundle = others[0].Bundle }, own with { Bundle = "0x1234" } })
        {
            var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, voucher));

            Assert.Equal((MarketError.InvalidRequest, "bundle", "NotInBundle"), (refused.Error, refused.Field, refused.Reason));
        }
        Assert.Null((await _market.GetLeaseAsync(ended.Id)).FinalVoucher);
        Assert.DoesNotContain((await _market.Settlement(pool).GetAsync()).Items, i => i.Voucher.LeaseId == ended.Id);
    }

    [Fact]
    public async Task A_bundle_signed_by_someone_other_than_the_leases_signer_is_refused_naming_the_signature()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var first = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var second = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var forged = Tenant.New().SignBundle(first, second);

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Lease(first.Id).SubmitFinalVoucherAsync(tenant.Address, forged[0]));

        Assert.Equal(("signature", "BadSignature"), (refused.Field, refused.Reason));
        Assert.Null((await _market.GetLeaseAsync(first.Id)).FinalVoucher);
    }

    [Fact]
    public async Task Usage_vouchers_signed_as_one_bundle_pay_each_token_billed_lease()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2, pricePerSlotHour: 3.00m);
        var tenant = Tenant.New();
        var request = TestMarket.Request(pool) with { BillBy = LeaseBillingMode.Tokens };
        var owing = new List<LeaseSnapshot>();
        for (var i = 0; i < 2; i++)
        {
            var active = await _market.FundAsync(await _market.RequestAsync(tenant, request), tenant);
            var lease = _market.Lease(active.Id);
            await lease.AdmitInferenceAsync(await lease.GetApiKeyAsync(tenant.Address));
            owing.Add(await lease.RecordInferenceAsync(new InferenceUsage(10_000 * (i + 1), 10_000)));
        }
        var members = TestVouchers.SignBundle(tenant.Key, [.. owing.Select(l => (l.Id, l.AmountOwed, false))]);

        var paid = await Task.WhenAll(owing.Select((l, i) => _market.Lease(l.Id).SubmitUsageVoucherAsync(members[i])));

        Assert.Equal(members, paid.Select(l => l.LastVoucher));
        Assert.All(paid, l => Assert.Equal(LeaseReasons.UsageVoucherAccepted, l.History[^1].Reason));
        var items = new[] { await SubmittedAsync(pool, owing[0].Id), await SubmittedAsync(pool, owing[1].Id) };
        Assert.Equal(items[0].TransactionHash, items[1].TransactionHash);
    }
}
