using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Grains.Settlement;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

[Collection(MarketClusterCollection.Name)]
public sealed class SettlementTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);
    private static RecordingEscrowSettlement Chain => ClusterFixture.Chain;

    private Task<SettlementItem> ItemAsync(PoolDefinition pool, Guid leaseId, Func<SettlementItem, bool> done, string what) =>
        Eventually.UntilAsync(
            async () => (await _market.Settlement(pool).GetAsync()).Items.SingleOrDefault(i => i.Voucher.LeaseId == leaseId)!,
            item => item is not null && done(item), what: what);

    [Fact]
    public async Task Final_voucher_for_what_is_owed_is_accepted_and_submitted_on_chain()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool, slots: 2));
        var voucher = tenant.Sign(ended.Id, ended.AmountOwed);

        var lease = await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, voucher);

        Assert.Equal(LeaseStatus.Ended, lease.Status);
        Assert.Equal(voucher, lease.FinalVoucher);
        Assert.Equal(LeaseReasons.FinalVoucherAccepted, lease.History[^1].Reason);

        var item = await ItemAsync(pool, ended.Id, i => i.Status == SettlementItemStatus.Submitted, "the voucher to be submitted");
        Assert.Equal(voucher, item.Voucher);
        var attempt = Assert.Single(Chain.AttemptsFor(ended.Id));
        Assert.Equal([voucher], attempt.Vouchers);
        Assert.Equal(attempt.Receipt!.TransactionHash, item.TransactionHash);
        Assert.Null(item.Error);
        Assert.Equal(1, (await _market.Settlement(pool).GetAsync()).BatchesSubmitted);
    }

    [Fact]
    public async Task A_submitted_voucher_whose_payment_the_lease_never_sees_is_sent_again_and_one_it_sees_is_confirmed()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool, hours: 2));
        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, ended.AmountOwed));
        await ItemAsync(pool, ended.Id, i => i.Status == SettlementItemStatus.Submitted, "the voucher to be submitted");

        // Its block is gone (a reorganization): no LeaseSettled ever reaches the lease, so the voucher goes out again.
        var resent = await Eventually.UntilAsync(() => Task.FromResult(Chain.AttemptsFor(ended.Id).Count), n => n >= 2,
            ClusterFixture.SettlementConfirmTimeout * 3, "the voucher to be sent again");
        var settledTx = TestMarket.NewTransactionHash();
        await _market.Lease(ended.Id).ConfirmSettledAsync(new EscrowSettled(pool.PayoutAddress, ended.AmountOwed, ended.AmountOwed, settledTx, 300));
        await _market.Lease(ended.Id).ConfirmClosedAsync(new EscrowClosed(ended.Deposit - ended.AmountOwed, settledTx, 300));
        var confirmed = await ItemAsync(pool, ended.Id, i => i.Status == SettlementItemStatus.Confirmed, "the voucher to be confirmed");
        var attempts = Chain.AttemptsFor(ended.Id).Count;
        await Task.Delay(ClusterFixture.SettlementConfirmTimeout + TimeSpan.FromSeconds(1));

        Assert.True(resent >= 2);
        Assert.Equal(SettlementItemStatus.Confirmed, confirmed.Status);
        Assert.Equal(attempts, Chain.AttemptsFor(ended.Id).Count);
    }

    [Fact]
    public async Task The_chain_confirming_payment_and_close_settles_the_lease_with_what_was_paid_and_refunded()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool, hours: 3));
        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, ended.AmountOwed));
        var settledTx = TestMarket.NewTransactionHash();
        var refund = ended.Deposit - ended.AmountOwed;

        await _market.Lease(ended.Id).ConfirmSettledAsync(new EscrowSettled(pool.PayoutAddress, ended.AmountOwed, ended.AmountOwed, settledTx, 200));
        await _market.Lease(ended.Id).ConfirmClosedAsync(new EscrowClosed(refund, settledTx, 200));

        var lease = await _market.GetLeaseAsync(ended.Id);
        Assert.Equal(LeaseStatus.Settled, lease.Status);
        Assert.Equal(LeaseReasons.SettledOnChain, lease.History[^1].Reason);
        Assert.Equal(ended.AmountOwed, lease.Paid);
        Assert.Equal(refund, lease.Refunded);
        Assert.Equal(ended.Deposit, lease.Paid + lease.Refunded);
        Assert.Equal(settledTx, lease.SettlementTransaction);
        var provider = await _market.Grains.GetGrain<IAccountGrain>(pool.PayoutAddress.ToLowerInvariant()).GetAsync();
        Assert.Equal(ended.AmountOwed, provider.Earned);

        // The watcher may see the same events again after a restart: nothing is counted twice.
        await _market.Lease(ended.Id).ConfirmSettledAsync(new EscrowSettled(pool.PayoutAddress, ended.AmountOwed, ended.AmountOwed, settledTx, 200));
        await _market.Lease(ended.Id).ConfirmClosedAsync(new EscrowClosed(refund, settledTx, 200));
        var again = await _market.GetLeaseAsync(ended.Id);
        Assert.Equal(lease.History.Count, again.History.Count);
        Assert.Equal(ended.AmountOwed, again.Paid);
        Assert.Equal(ended.AmountOwed, (await _market.Grains.GetGrain<IAccountGrain>(pool.PayoutAddress.ToLowerInvariant()).GetAsync()).Earned);
    }

    [Fact]
    public async Task Every_payment_on_chain_is_in_the_leases_history_with_its_amount_and_transaction_once()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool, hours: 3));
        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, ended.AmountOwed));
        var (firstTx, finalTx) = (TestMarket.NewTransactionHash(), TestMarket.NewTransactionHash());
        var part = Credits.FromUnits(ended.AmountOwed.Units / 3);

        // A usage voucher's payment first (part of the bill), then the final voucher's (the rest), then the close.
        await _market.Lease(ended.Id).ConfirmSettledAsync(new EscrowSettled(pool.PayoutAddress, part, part, firstTx, 200));
        await _market.Lease(ended.Id).ConfirmSettledAsync(new EscrowSettled(pool.PayoutAddress, ended.AmountOwed - part, ended.AmountOwed, finalTx, 201));
        await _market.Lease(ended.Id).ConfirmSettledAsync(new EscrowSettled(pool.PayoutAddress, part, part, firstTx, 200));
        await _market.Lease(ended.Id).ConfirmClosedAsync(new EscrowClosed(ended.Deposit - ended.AmountOwed, finalTx, 201));

        var lease = await _market.GetLeaseAsync(ended.Id);
        var payments = lease.History.Where(t => t.Reason == LeaseReasons.PaidOnChain).ToList();
        Assert.Equal(2, payments.Count);
        Assert.Contains($"{part} to ", payments[0].Detail);
        Assert.Contains(firstTx, payments[0].Detail);
        Assert.Contains($"{ended.AmountOwed - part} to ", payments[1].Detail);
        Assert.Contains(finalTx, payments[1].Detail);
        Assert.Contains($"paid {ended.AmountOwed} in all", payments[1].Detail);
        Assert.Equal(LeaseReasons.SettledOnChain, lease.History[^1].Reason);
        Assert.Equal(ended.AmountOwed, lease.Paid);
    }

    [Fact]
    public async Task A_lease_settled_for_nothing_still_records_its_settlement_transaction()
    {
        var (pool, ended) = await BlockEndedBeforeItStartsAsync();
        var settledTx = TestMarket.NewTransactionHash();

        await _market.Lease(ended.Id).ConfirmSettledAsync(new EscrowSettled(pool.PayoutAddress, Credits.Zero, Credits.Zero, settledTx, 200));
        await _market.Lease(ended.Id).ConfirmClosedAsync(new EscrowClosed(ended.Deposit, settledTx, 200));

        var lease = await _market.GetLeaseAsync(ended.Id);
        Assert.Equal((LeaseStatus.Settled, Credits.Zero, ended.Deposit), (lease.Status, lease.Paid, lease.Refunded));
        Assert.Contains(settledTx, lease.History[^1].Detail);
        Assert.Equal(settledTx, lease.SettlementTransaction);
        Assert.Equal(Credits.Zero, (await _market.Grains.GetGrain<IAccountGrain>(pool.PayoutAddress.ToLowerInvariant()).GetAsync()).Earned);
    }

    [Fact]
    public async Task A_final_voucher_for_nothing_is_confirmed_only_when_the_escrow_is_seen_closed_and_is_sent_again_until_then()
    {
        var (pool, ended) = await BlockEndedBeforeItStartsAsync();
        await ItemAsync(pool, ended.Id, i => i.Status == SettlementItemStatus.Submitted, "the voucher to be submitted");

        // Paid (nothing) already covers its amount, but the escrow is still open: its transaction was lost, so it goes again.
        await Eventually.UntilAsync(() => Task.FromResult(Chain.AttemptsFor(ended.Id).Count), n => n >= 2,
            ClusterFixture.SettlementConfirmTimeout * 3, "the voucher to be sent again");
        var settledTx = TestMarket.NewTransactionHash();
        await _market.Lease(ended.Id).ConfirmSettledAsync(new EscrowSettled(pool.PayoutAddress, Credits.Zero, Credits.Zero, settledTx, 300));
        await _market.Lease(ended.Id).ConfirmClosedAsync(new EscrowClosed(ended.Deposit, settledTx, 300));

        var confirmed = await ItemAsync(pool, ended.Id, i => i.Status == SettlementItemStatus.Confirmed, "the voucher to be confirmed");
        Assert.Equal(settledTx, (await _market.GetLeaseAsync(ended.Id)).SettlementTransaction);
        Assert.NotNull(confirmed.TransactionHash);
    }

    /// <summary>A block ended before it starts: it owes nothing, and its final voucher, for 0, closes the escrow.</summary>
    private async Task<(PoolDefinition Pool, LeaseSnapshot Ended)> BlockEndedBeforeItStartsAsync()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var block = await _market.FundAsync(await _market.RequestAsync(tenant, TestMarket.Request(pool) with { Start = DateTimeOffset.UtcNow.AddHours(2) }), tenant);
        var ended = await _market.Lease(block.Id).EndAsync(tenant.Address);
        Assert.Equal((LeaseStatus.Ended, Credits.Zero), (ended.Status, ended.AmountOwed));
        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, Credits.Zero));
        return (pool, ended);
    }

    public static TheoryData<string> BadVouchers => ["amount", "signature", "isFinal", "leaseId"];

    [Theory]
    [MemberData(nameof(BadVouchers))]
    public async Task Voucher_that_is_not_the_final_one_for_what_is_owed_is_refused_naming_the_field_and_nothing_is_queued(string field)
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var voucher = field switch
        {
            "amount" => tenant.Sign(ended.Id, ended.AmountOwed - Credits.FromUnits(1)),
            "signature" => Tenant.New().Sign(ended.Id, ended.AmountOwed),
            "isFinal" => tenant.Sign(ended.Id, ended.AmountOwed, isFinal: false),
            "leaseId" => tenant.Sign(Guid.NewGuid(), ended.AmountOwed),
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, voucher));

        Assert.Equal(MarketError.InvalidRequest, refused.Error);
        Assert.Equal(field, refused.Field);
        await AssertNothingQueuedAsync(pool, ended);
    }

    [Theory]
    [InlineData("0x1234")]
    [InlineData("not hex at all")]
    [InlineData("")]
    public async Task Voucher_with_a_malformed_signature_is_refused_naming_the_signature(string signature)
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));

        var refused = await Assert.ThrowsAsync<MarketException>(() =>
            _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, new SignedVoucher(ended.Id, 0, ended.AmountOwed, true, signature)));

        Assert.Equal("signature", refused.Field);
        await AssertNothingQueuedAsync(pool, ended);
    }

    [Theory]
    [InlineData(1L, TestVouchers.Escrow)]
    [InlineData(TestVouchers.ChainId, "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512")]
    public async Task Voucher_signed_for_another_chain_or_escrow_contract_is_refused_naming_the_signature(long chainId, string escrow)
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var elsewhere = TestVouchers.Sign(tenant.Key, ended.Id, ended.AmountOwed, isFinal: true, chainId, escrow);

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, elsewhere));

        Assert.Equal("signature", refused.Field);
        await AssertNothingQueuedAsync(pool, ended);
    }

    [Fact]
    public async Task Voucher_naming_another_channel_than_the_escrow_took_is_refused_naming_the_channel()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var elsewhere = TestVouchers.Sign(tenant.Key, ended.Id, ended.AmountOwed, isFinal: true, channel: ended.Channel!.Value + 1);

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, elsewhere));

        Assert.Equal("channel", refused.Field);
        await AssertNothingQueuedAsync(pool, ended);
    }

    [Fact]
    public async Task Voucher_from_another_tenant_or_before_the_lease_ended_is_refused()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var active = await _market.ActiveLeaseAsync(tenant, TestMarket.Request(pool));
        var early = tenant.Sign(active.Id, Credits.FromCredits(0.04m));

        var notEnded = await Assert.ThrowsAsync<MarketException>(() => _market.Lease(active.Id).SubmitFinalVoucherAsync(tenant.Address, early));
        var stranger = Tenant.New();
        var notYours = await Assert.ThrowsAsync<MarketException>(() =>
            _market.Lease(active.Id).SubmitFinalVoucherAsync(stranger.Address, stranger.Sign(active.Id, Credits.FromCredits(0.04m))));

        Assert.Equal(MarketError.Conflict, notEnded.Error);
        Assert.Equal(MarketError.NotYourLease, notYours.Error);
        Assert.Equal(LeaseStatus.Active, (await _market.GetLeaseAsync(active.Id)).Status);
        await AssertNothingQueuedAsync(pool, active);
    }

    [Fact]
    public async Task The_same_final_voucher_twice_is_queued_once_and_a_different_one_is_refused()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var voucher = tenant.Sign(ended.Id, ended.AmountOwed);
        var first = await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, voucher);

        var again = await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, voucher);
        var other = await Assert.ThrowsAsync<MarketException>(() =>
            _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, ended.AmountOwed + Credits.FromUnits(1))));

        Assert.Equal(first.History.Count, again.History.Count);
        Assert.Equal(MarketError.Conflict, other.Error);
        await ItemAsync(pool, ended.Id, i => i.Status == SettlementItemStatus.Submitted, "the voucher to be submitted");
        Assert.Single((await _market.Settlement(pool).GetAsync()).Items);
        Assert.Single(Chain.AttemptsFor(ended.Id));
    }

    [Fact]
    public async Task Settlement_the_contract_reverts_is_Rejected_and_the_lease_history_says_so()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        Chain.RevertFor(ended.Id, "StaleVoucher");

        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, ended.AmountOwed));

        var item = await ItemAsync(pool, ended.Id, i => i.Status != SettlementItemStatus.Queued, "the settlement to be decided");
        Assert.Equal(SettlementItemStatus.Rejected, item.Status);
        Assert.Equal("StaleVoucher", item.Error);
        var lease = await Eventually.UntilAsync(() => _market.GetLeaseAsync(ended.Id),
            l => l.History[^1].Reason == LeaseReasons.SettlementRejected, what: "the lease to hear of the rejection");
        Assert.Equal("StaleVoucher", lease.History[^1].Detail);
        Assert.Equal(LeaseStatus.Ended, lease.Status);
        Assert.Equal(0, (await _market.Settlement(pool).GetAsync()).BatchesSubmitted);
    }

    [Fact]
    public async Task One_reverting_voucher_in_a_batch_does_not_hold_back_the_others()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var good = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var bad = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        Chain.RevertFor(bad.Id, "VoucherAboveDeposit");

        await Task.WhenAll(
            _market.Lease(good.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(good.Id, good.AmountOwed)),
            _market.Lease(bad.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(bad.Id, bad.AmountOwed)));

        Assert.Equal(SettlementItemStatus.Submitted,
            (await ItemAsync(pool, good.Id, i => i.Status != SettlementItemStatus.Queued, "the good voucher to be decided")).Status);
        Assert.Equal(SettlementItemStatus.Rejected,
            (await ItemAsync(pool, bad.Id, i => i.Status != SettlementItemStatus.Queued, "the bad voucher to be decided")).Status);
    }

    [Fact]
    public async Task A_voucher_the_contract_names_as_rejected_is_Rejected_while_the_rest_of_its_batch_is_Submitted()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var good = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var bad = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        Chain.RejectFor(bad.Id, "LeaseAlreadyClosed");

        await Task.WhenAll(
            _market.Lease(good.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(good.Id, good.AmountOwed)),
            _market.Lease(bad.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(bad.Id, bad.AmountOwed)));

        var goodItem = await ItemAsync(pool, good.Id, i => i.Status != SettlementItemStatus.Queued, "the good voucher to be decided");
        var badItem = await ItemAsync(pool, bad.Id, i => i.Status != SettlementItemStatus.Queued, "the bad voucher to be decided");
        Assert.Equal(SettlementItemStatus.Submitted, goodItem.Status);
        Assert.Equal((SettlementItemStatus.Rejected, "LeaseAlreadyClosed"), (badItem.Status, badItem.Error));
        Assert.All(Chain.AttemptsFor(bad.Id), a => Assert.True(a.Receipt!.Succeeded));
        var lease = await Eventually.UntilAsync(() => _market.GetLeaseAsync(bad.Id),
            l => l.History[^1].Reason == LeaseReasons.SettlementRejected, what: "the lease to hear of the rejection");
        Assert.Equal("LeaseAlreadyClosed", lease.History[^1].Detail);
        // Final: not tried again.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Single(Chain.AttemptsFor(bad.Id));
    }

    [Fact]
    public async Task A_paid_voucher_sent_again_while_the_watcher_lags_and_refused_as_LeaseReplaced_is_Confirmed_once_the_watcher_catches_up()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, ended.AmountOwed));
        var first = await ItemAsync(pool, ended.Id, i => i.Status == SettlementItemStatus.Submitted, "the voucher to be submitted");

        // The voucher paid and closed the escrow, and the tenant's next lease took its channel; the watcher lags beyond the
        // confirm timeout, so the voucher goes again and the contract refuses it as LeaseReplaced, naming no amount.
        Chain.RejectFor(ended.Id, "LeaseReplaced");
        await Eventually.UntilAsync(() => Task.FromResult(Chain.AttemptsFor(ended.Id).Count), n => n >= 2,
            ClusterFixture.SettlementConfirmTimeout * 3, "the voucher to be sent again");
        // The chain has refused it; its queue records the refusal once the receipt is back (however long that takes).
        var waiting = await ItemAsync(pool, ended.Id, i => i.Error?.StartsWith("LeaseReplaced", StringComparison.Ordinal) == true,
            "the refusal to be recorded");
        Assert.Equal(SettlementItemStatus.Submitted, waiting.Status);
        Assert.DoesNotContain((await _market.GetLeaseAsync(ended.Id)).History, t => t.Reason == LeaseReasons.SettlementRejected);

        // The watcher catches up with the first transaction.
        await _market.Lease(ended.Id).ConfirmSettledAsync(new EscrowSettled(pool.PayoutAddress, ended.AmountOwed, ended.AmountOwed, first.TransactionHash!, 300));
        await _market.Lease(ended.Id).ConfirmClosedAsync(new EscrowClosed(ended.Deposit - ended.AmountOwed, first.TransactionHash!, 300));

        var confirmed = await ItemAsync(pool, ended.Id, i => i.Status != SettlementItemStatus.Submitted, "the voucher to be decided");
        Assert.Equal(SettlementItemStatus.Confirmed, confirmed.Status);
        var lease = await _market.GetLeaseAsync(ended.Id);
        Assert.Equal((LeaseStatus.Settled, ended.AmountOwed), (lease.Status, lease.Paid));
        Assert.DoesNotContain(lease.History, t => t.Reason == LeaseReasons.SettlementRejected);
    }

    [Fact]
    public async Task A_voucher_refused_as_LeaseReplaced_is_Rejected_once_its_lease_sees_the_escrow_closed_without_it()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        // The escrow closed without the voucher (its tenant took it back) and the channel went to a later lease.
        Chain.RejectFor(ended.Id, "LeaseReplaced");
        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, ended.AmountOwed));
        var waiting = await ItemAsync(pool, ended.Id, i => i.Status != SettlementItemStatus.Queued, "the refusal to be recorded");
        Assert.Equal(SettlementItemStatus.Submitted, waiting.Status);

        await _market.Lease(ended.Id).ConfirmClosedAsync(new EscrowClosed(ended.Deposit, TestMarket.NewTransactionHash(), 300));

        var rejected = await ItemAsync(pool, ended.Id, i => i.Status != SettlementItemStatus.Submitted, "the voucher to be decided");
        Assert.Equal(SettlementItemStatus.Rejected, rejected.Status);
        Assert.StartsWith("LeaseReplaced", rejected.Error);
        var attempts = Chain.AttemptsFor(ended.Id).Count;
        await Task.Delay(ClusterFixture.SettlementConfirmTimeout + TimeSpan.FromSeconds(1));
        Assert.Equal(attempts, Chain.AttemptsFor(ended.Id).Count);
    }

    [Fact]
    public async Task A_voucher_refused_for_a_reason_that_can_pass_is_tried_again_with_growing_waits_until_it_settles()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        // The market's key is not a settler yet: the escrow's owner names it a moment later.
        Chain.RejectFor(ended.Id, "NotSettler");

        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, ended.AmountOwed));

        var waiting = await ItemAsync(pool, ended.Id, i => i.Refusals >= 4, "the voucher to be refused four times");
        Assert.Equal((SettlementItemStatus.Queued, "NotSettler"), (waiting.Status, waiting.Error));
        Assert.NotNull(waiting.NotBefore);
        // The waits are checked from below, where a slow machine cannot push them: after the n-th refusal the queue waits at
        // least Backoff(n) (300, 600, 1200, then 2400 ms), whatever else held it up. The wait it set after the fourth is
        // longer than the first one took, unless that first retry ran over two seconds late.
        var tries = Chain.AttemptsFor(ended.Id).Select(a => a.At).ToList();
        var waits = tries.Zip(tries.Skip(1), (a, b) => b - a).ToList();
        var shown = $"waits between tries: {string.Join(", ", waits.Select(w => $"{w.TotalMilliseconds:0}"))} ms; then until {waiting.NotBefore:HH:mm:ss.fff}";
        for (var refusals = 1; refusals <= 3; refusals++)
            Assert.True(waits[refusals - 1] >= SettlementRetry.Backoff(refusals, ClusterFixture.SettlementRetryDelay, new MarketOptions().SettlementRetryMaxDelay), shown);
        Assert.True(waiting.NotBefore - tries[3] >= SettlementRetry.Backoff(4, ClusterFixture.SettlementRetryDelay, new MarketOptions().SettlementRetryMaxDelay), shown);
        Assert.True(waiting.NotBefore - tries[3] > waits[0], shown);

        Chain.StopRejectingFor(ended.Id);

        var settled = await ItemAsync(pool, ended.Id, i => i.Status == SettlementItemStatus.Submitted, "the voucher to be submitted once it can pass");
        Assert.True(Chain.AttemptsFor(ended.Id)[^1].Applied(ended.Id));
        Assert.Equal((0, (DateTimeOffset?)null), (settled.Refusals, settled.NotBefore));
        // The lease heard of the refusal once, as one that may pass.
        var told = Assert.Single((await _market.GetLeaseAsync(ended.Id)).History, t => t.Reason == LeaseReasons.SettlementRejected);
        Assert.StartsWith("NotSettler: may pass", told.Detail);
    }

    [Fact]
    public async Task A_refusal_that_can_pass_is_final_once_the_lease_is_closed()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        Chain.RejectFor(ended.Id, "UnknownLease");
        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, ended.AmountOwed));
        await ItemAsync(pool, ended.Id, i => i.Refusals >= 1, "the voucher to be refused");

        // The escrow was closed meanwhile: nothing can take the voucher any more.
        var closedTx = TestMarket.NewTransactionHash();
        await _market.Lease(ended.Id).ConfirmClosedAsync(new EscrowClosed(ended.Deposit, closedTx, 300));

        var rejected = await ItemAsync(pool, ended.Id, i => i.Status == SettlementItemStatus.Rejected, "the voucher to be rejected for good");
        Assert.Equal("UnknownLease", rejected.Error);
        var attempts = Chain.AttemptsFor(ended.Id).Count;
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(attempts, Chain.AttemptsFor(ended.Id).Count);
    }

    [Fact]
    public async Task A_voucher_refused_as_ExceedsDeposit_is_sent_again_as_soon_as_a_top_up_is_seen()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        Chain.RejectFor(ended.Id, "ExceedsDeposit");
        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, ended.AmountOwed));
        // Three refusals in: the next try is over a second away.
        await ItemAsync(pool, ended.Id, i => i.Refusals >= 3, "the voucher to be refused three times");

        // The chain takes the voucher from the moment the lease hands the top-up to its queue, not before: a try the wait
        // brings first (a slow machine may take a second to get here) is refused, so only the top-up can make it pass.
        Faults.OnCall(nameof(ISettlementGrain.ResendAsync), argument => argument is SignedVoucher v && v.LeaseId == ended.Id,
            () => Chain.StopRejectingFor(ended.Id));
        await _market.Lease(ended.Id).ConfirmTopUpAsync(new EscrowToppedUp(Credits.FromCredits(1m), ended.Escrowed + Credits.FromCredits(1m), TestMarket.NewTransactionHash(), 500));

        await ItemAsync(pool, ended.Id, i => i.Status == SettlementItemStatus.Submitted && i.Error?.Contains("escrow changed on chain") == true,
            "the voucher to be submitted, sent again for the top-up");
        Assert.True(Chain.AttemptsFor(ended.Id)[^1].Applied(ended.Id));
    }

    [Fact]
    public async Task Settlement_stays_Queued_while_the_chain_is_unreachable_and_is_submitted_once_it_is_back()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        Chain.BeUnreachableFor(ended.Id);
        var voucher = tenant.Sign(ended.Id, ended.AmountOwed);

        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, voucher);

        await Eventually.UntilAsync(() => Task.FromResult(Chain.AttemptsFor(ended.Id).Count), n => n >= 2, what: "a retry after the chain failed");
        var queued = Assert.Single((await _market.Settlement(pool).GetAsync()).Items);
        Assert.Equal(SettlementItemStatus.Queued, queued.Status);
        Assert.Null(queued.TransactionHash);

        Chain.BeReachableFor(ended.Id);

        var item = await ItemAsync(pool, ended.Id, i => i.Status == SettlementItemStatus.Submitted, "the voucher to be submitted after the chain came back");
        var submitted = Assert.Single(Chain.AttemptsFor(ended.Id), a => a.Receipt is not null);
        Assert.Equal(submitted.Receipt!.TransactionHash, item.TransactionHash);
        Assert.Equal(voucher, item.Voucher);
        Assert.Equal(LeaseStatus.Ended, (await _market.GetLeaseAsync(ended.Id)).Status);
    }

    private async Task AssertNothingQueuedAsync(PoolDefinition pool, LeaseSnapshot before)
    {
        var lease = await _market.GetLeaseAsync(before.Id);
        Assert.Null(lease.FinalVoucher);
        Assert.Equal(before.Status, lease.Status);
        Assert.Equal(before.History.Count, lease.History.Count);
        Assert.Empty((await _market.Settlement(pool).GetAsync()).Items);
        Assert.Empty(Chain.AttemptsFor(before.Id));
    }
}
