using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>
/// What the grains do when the chain watcher hands back events a reorganization removed: each fact is undone once, in
/// the order the watcher hands them back (newest first), and the market then takes the new chain's events as before.
/// </summary>
[Collection(MarketClusterCollection.Name)]
public sealed class ReorgRollbackTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);
    private static RecordingEscrowSettlement Chain => ClusterFixture.Chain;

    private IAccountGrain Provider(PoolDefinition pool) => _market.Grains.GetGrain<IAccountGrain>(pool.PayoutAddress.ToLowerInvariant());

    private Task<SettlementItem> ItemAsync(PoolDefinition pool, Guid leaseId, SettlementItemStatus status) =>
        Eventually.UntilAsync(
            async () => (await _market.Settlement(pool).GetAsync()).Items.SingleOrDefault(i => i.Voucher.LeaseId == leaseId)!,
            item => item?.Status == status, what: $"the voucher to be {status}");

    private static int ReorgedOut(LeaseSnapshot lease) => lease.History.Count(t => t.Reason == LeaseReasons.ReorgedOut);

    [Fact]
    public async Task A_removed_payment_and_close_are_undone_once_the_voucher_is_sent_again_and_the_new_chain_settles_the_lease_once()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool, hours: 2));
        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, ended.AmountOwed));
        await ItemAsync(pool, ended.Id, SettlementItemStatus.Submitted);
        var refund = ended.Deposit - ended.AmountOwed;
        var settled = new EscrowSettled(pool.PayoutAddress, ended.AmountOwed, ended.AmountOwed, TestMarket.NewTransactionHash(), 200);
        var closed = new EscrowClosed(refund, settled.TransactionHash, 200);
        await _market.Lease(ended.Id).ConfirmSettledAsync(settled);
        await _market.Lease(ended.Id).ConfirmClosedAsync(closed);
        await ItemAsync(pool, ended.Id, SettlementItemStatus.Confirmed);
        var sentBefore = Chain.AttemptsFor(ended.Id).Count;

        // The watcher hands back a block's events newest first; after a crash it may hand them back again.
        for (var i = 0; i < 2; i++)
        {
            await _market.Lease(ended.Id).RollBackClosedAsync(closed);
            await _market.Lease(ended.Id).RollBackSettledAsync(settled);
        }

        var rolledBack = await _market.GetLeaseAsync(ended.Id);
        Assert.Equal((LeaseStatus.Ended, Credits.Zero, Credits.Zero, 2), (rolledBack.Status, rolledBack.Paid, rolledBack.Refunded, ReorgedOut(rolledBack)));
        Assert.Null(rolledBack.SettlementTransaction);
        Assert.Equal(Credits.Zero, (await Provider(pool).GetAsync()).Earned);
        await Eventually.UntilAsync(() => Task.FromResult(Chain.AttemptsFor(ended.Id).Count), n => n > sentBefore, what: "the voucher to be sent again");
        Assert.Contains("reorganization", (await ItemAsync(pool, ended.Id, SettlementItemStatus.Submitted)).Error);

        var resettled = settled with { TransactionHash = TestMarket.NewTransactionHash(), BlockNumber = 201 };
        await _market.Lease(ended.Id).ConfirmSettledAsync(resettled);
        await _market.Lease(ended.Id).ConfirmClosedAsync(closed with { TransactionHash = resettled.TransactionHash, BlockNumber = 201 });

        var lease = await _market.GetLeaseAsync(ended.Id);
        Assert.Equal((LeaseStatus.Settled, ended.AmountOwed, refund), (lease.Status, lease.Paid, lease.Refunded));
        Assert.Equal(resettled.TransactionHash, lease.SettlementTransaction);
        Assert.Equal(ended.AmountOwed, (await Provider(pool).GetAsync()).Earned);
        await ItemAsync(pool, ended.Id, SettlementItemStatus.Confirmed);
    }

    [Fact]
    public async Task A_removed_usage_payment_takes_paid_back_to_the_payment_before_it()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var active = await _market.ActiveLeaseAsync(tenant, TestMarket.Request(pool));
        var first = new EscrowSettled(pool.PayoutAddress, Credits.FromCredits(1m), Credits.FromCredits(1m), TestMarket.NewTransactionHash(), 300);
        var second = new EscrowSettled(pool.PayoutAddress, Credits.FromCredits(0.5m), Credits.FromCredits(1.5m), TestMarket.NewTransactionHash(), 301);
        await _market.Lease(active.Id).ConfirmSettledAsync(first);
        await _market.Lease(active.Id).ConfirmSettledAsync(second);

        // Only the newest is gone; an older payment handed back out of turn changes nothing.
        await _market.Lease(active.Id).RollBackSettledAsync(first);
        await _market.Lease(active.Id).RollBackSettledAsync(second);
        await _market.Lease(active.Id).RollBackSettledAsync(second);

        var lease = await _market.GetLeaseAsync(active.Id);
        Assert.Equal((LeaseStatus.Active, Credits.FromCredits(1m), 1), (lease.Status, lease.Paid, ReorgedOut(lease)));
        Assert.Equal(Credits.FromCredits(1m), (await Provider(pool).GetAsync()).Earned);
    }

    [Fact]
    public async Task A_final_settlement_paying_nothing_more_is_the_one_recorded_until_a_reorganization_removes_it()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var active = await _market.ActiveLeaseAsync(Tenant.New(), TestMarket.Request(pool));
        var payment = new EscrowSettled(pool.PayoutAddress, Credits.FromCredits(1m), Credits.FromCredits(1m), TestMarket.NewTransactionHash(), 300);
        var closing = new EscrowSettled(pool.PayoutAddress, Credits.Zero, Credits.FromCredits(1m), TestMarket.NewTransactionHash(), 301);
        await _market.Lease(active.Id).ConfirmSettledAsync(payment);
        await _market.Lease(active.Id).ConfirmSettledAsync(closing);

        // The older payment handed again (after a watcher's restart) does not take the place of the newer settlement.
        await _market.Lease(active.Id).ConfirmSettledAsync(payment);
        var settled = await _market.GetLeaseAsync(active.Id);
        Assert.Equal((Credits.FromCredits(1m), closing.TransactionHash), (settled.Paid, settled.SettlementTransaction));

        await _market.Lease(active.Id).RollBackSettledAsync(closing);
        await _market.Lease(active.Id).RollBackSettledAsync(closing);
        var rolledBack = await _market.GetLeaseAsync(active.Id);
        Assert.Equal((Credits.FromCredits(1m), (string?)null, 1), (rolledBack.Paid, rolledBack.SettlementTransaction, ReorgedOut(rolledBack)));

        var again = closing with { TransactionHash = TestMarket.NewTransactionHash(), BlockNumber = 302 };
        await _market.Lease(active.Id).ConfirmSettledAsync(again);
        var resettled = await _market.GetLeaseAsync(active.Id);
        Assert.Equal((Credits.FromCredits(1m), again.TransactionHash), (resettled.Paid, resettled.SettlementTransaction));
        Assert.Equal(Credits.FromCredits(1m), (await Provider(pool).GetAsync()).Earned);
    }

    [Fact]
    public async Task A_removed_funding_puts_a_running_lease_back_to_waiting_for_its_escrow_and_the_escrow_mined_again_resumes_it_in_its_window()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool, slots: 2));
        var escrow = TestMarket.MatchingEscrow(reserved, tenant);
        var active = (await _market.Lease(reserved.Id).ConfirmFundingAsync(escrow))!;
        Assert.Equal(LeaseStatus.Active, active.Status);

        await _market.Lease(active.Id).RollBackFundingAsync(escrow);
        await _market.Lease(active.Id).RollBackFundingAsync(escrow);

        var waiting = await _market.GetLeaseAsync(active.Id);
        Assert.Equal((LeaseStatus.Reserved, LeaseReasons.ReorgedOut, 1), (waiting.Status, waiting.History[^1].Reason, ReorgedOut(waiting)));
        Assert.Null(waiting.FundingTransaction);
        Assert.Equal(Credits.Zero, waiting.Escrowed);
        Assert.True(waiting.FundBy > DateTimeOffset.UtcNow);
        Assert.All(await _market.SlotsAsync(pool), slot => Assert.Equal(active.Id, slot.LeaseId));
        await Assert.ThrowsAsync<MarketException>(() => _market.Lease(active.Id).GetApiKeyAsync(tenant.Address));

        var resumed = (await _market.Lease(active.Id).ConfirmFundingAsync(escrow))!;

        Assert.Equal(LeaseStatus.Active, resumed.Status);
        Assert.Equal((active.StartedAt, active.EndsAt, escrow.TransactionHash), (resumed.StartedAt, resumed.EndsAt, resumed.FundingTransaction));
        await _market.AssertPoolAgreesWithSlotsAsync(pool);
    }

    [Fact]
    public async Task A_running_lease_whose_escrow_never_comes_back_expires_and_frees_its_slots()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool));
        var escrow = TestMarket.MatchingEscrow(reserved, tenant);
        await _market.Lease(reserved.Id).ConfirmFundingAsync(escrow);

        await _market.Lease(reserved.Id).RollBackFundingAsync(escrow);

        var expired = await Eventually.UntilAsync(() => _market.GetLeaseAsync(reserved.Id), l => l.Status == LeaseStatus.Expired,
            ClusterFixture.FundingWindow * 4, "the lease to expire");
        Assert.Equal(LeaseReasons.ReservationNotFunded, expired.History[^1].Reason);
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
        await _market.AssertPoolAgreesWithSlotsAsync(pool);
    }

    [Fact]
    public async Task An_ended_lease_whose_escrow_is_removed_keeps_its_bill_and_settles_once_the_escrow_is_mined_again()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool));
        var escrow = TestMarket.MatchingEscrow(reserved, tenant);
        await _market.Lease(reserved.Id).ConfirmFundingAsync(escrow);
        var ended = await _market.Lease(reserved.Id).EndAsync(tenant.Address);
        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, ended.AmountOwed));

        await _market.Lease(ended.Id).RollBackFundingAsync(escrow);
        var orphaned = await _market.GetLeaseAsync(ended.Id);
        Assert.Equal((LeaseStatus.Ended, ended.AmountOwed, LeaseReasons.ReorgedOut), (orphaned.Status, orphaned.AmountOwed, orphaned.History[^1].Reason));
        Assert.Null(orphaned.FundingTransaction);

        var funded = (await _market.Lease(ended.Id).ConfirmFundingAsync(escrow))!;
        Assert.Equal((LeaseStatus.Ended, escrow.TransactionHash), (funded.Status, funded.FundingTransaction));
        var settled = new EscrowSettled(pool.PayoutAddress, ended.AmountOwed, ended.AmountOwed, TestMarket.NewTransactionHash(), 400);
        await _market.Lease(ended.Id).ConfirmSettledAsync(settled);
        await _market.Lease(ended.Id).ConfirmClosedAsync(new EscrowClosed(ended.Deposit - ended.AmountOwed, settled.TransactionHash, 400));
        Assert.Equal(LeaseStatus.Settled, (await _market.GetLeaseAsync(ended.Id)).Status);
    }

    [Fact]
    public async Task A_final_voucher_in_flight_when_its_removed_escrow_is_mined_again_is_sent_again_after_its_receipt()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool));
        var escrow = TestMarket.MatchingEscrow(reserved, tenant);
        await _market.Lease(reserved.Id).ConfirmFundingAsync(escrow);
        var ended = await _market.Lease(reserved.Id).EndAsync(tenant.Address);
        // A reorganization drops the escrow's opening: the contract does not know the lease.
        await _market.Lease(ended.Id).RollBackFundingAsync(escrow);
        Chain.RejectFor(ended.Id, "UnknownLease");
        var held = Chain.HoldFor(ended.Id);
        await _market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, tenant.Sign(ended.Id, ended.AmountOwed));
        await held.Sent;

        // The opening is mined again while the voucher's batch is in flight; that batch's receipt then says UnknownLease.
        await _market.Lease(ended.Id).ConfirmFundingAsync(escrow);
        Chain.StopRejectingFor(ended.Id);
        held.Release();

        var item = await ItemAsync(pool, ended.Id, SettlementItemStatus.Submitted);
        Assert.Contains("before its escrow changed on chain", item.Error);
        var attempts = Chain.AttemptsFor(ended.Id);
        Assert.Equal([SettlementItemStatus.Rejected, SettlementItemStatus.Submitted],
            attempts.Select(a => a.Applied(ended.Id) ? SettlementItemStatus.Submitted : SettlementItemStatus.Rejected));
    }

    [Fact]
    public async Task A_removed_closing_is_recorded_once_and_the_lease_it_ended_stays_Ended_with_its_slots_free()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var active = await _market.ActiveLeaseAsync(tenant, TestMarket.Request(pool, hours: 2));
        // The tenant's own final voucher pays what it says and starts the closing, in one transaction.
        var closing = new EscrowClosing(DateTimeOffset.UtcNow, TestMarket.NewTransactionHash(), 600);
        var paid = new EscrowSettled(pool.PayoutAddress, Credits.FromCredits(0.01m), Credits.FromCredits(0.01m), closing.TransactionHash, 600);
        await _market.Lease(active.Id).ConfirmSettledAsync(paid);
        await _market.Lease(active.Id).ConfirmClosingAsync(closing);
        var closed = await _market.GetLeaseAsync(active.Id);
        Assert.Equal((LeaseStatus.Ended, LeaseReasons.ClosingOnChain), (closed.Status, closed.History[^1].Reason));

        // Handed back newest first (the payment's log may come after the closing's), and again after a crash.
        for (var i = 0; i < 2; i++)
        {
            await _market.Lease(active.Id).RollBackSettledAsync(paid);
            await _market.Lease(active.Id).RollBackClosingAsync(closing);
        }

        var lease = await _market.GetLeaseAsync(active.Id);
        Assert.Equal((LeaseStatus.Ended, 2, closed.AmountOwed, Credits.Zero), (lease.Status, ReorgedOut(lease), lease.AmountOwed, lease.Paid));
        Assert.Equal(Credits.Zero, (await Provider(pool).GetAsync()).Earned);
        Assert.Equal(LeaseReasons.ReorgedOut, lease.History[^1].Reason);
        Assert.Contains(closing.TransactionHash, lease.History[^1].Detail);
        Assert.Contains("stays Ended", lease.History[^1].Detail);
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
        await _market.AssertPoolAgreesWithSlotsAsync(pool);

        // The closing mined again (or handed again after a restart) changes nothing more.
        await _market.Lease(active.Id).ConfirmClosingAsync(closing);
        Assert.Equal(lease.History.Count, (await _market.GetLeaseAsync(active.Id)).History.Count);
    }

    [Fact]
    public async Task A_removed_closing_the_lease_never_saw_changes_nothing()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var active = await _market.ActiveLeaseAsync(Tenant.New(), TestMarket.Request(pool));

        await _market.Lease(active.Id).RollBackClosingAsync(new EscrowClosing(DateTimeOffset.UtcNow, TestMarket.NewTransactionHash(), 600));

        var lease = await _market.GetLeaseAsync(active.Id);
        Assert.Equal((LeaseStatus.Active, active.History.Count), (lease.Status, lease.History.Count));
    }

    [Fact]
    public async Task A_removed_top_up_and_a_removed_withdrawal_are_undone_once()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var active = await _market.ActiveLeaseAsync(tenant, TestMarket.Request(pool));
        var toppedUp = new EscrowToppedUp(Credits.FromCredits(2m), active.Escrowed + Credits.FromCredits(2m), TestMarket.NewTransactionHash(), 500);
        await _market.Lease(active.Id).ConfirmTopUpAsync(toppedUp);
        var withdrawal = TestMarket.NewTransactionHash();
        await Provider(pool).RecordWithdrawalAsync(Credits.FromCredits(3m), withdrawal);

        for (var i = 0; i < 2; i++)
        {
            await _market.Lease(active.Id).RollBackTopUpAsync(toppedUp);
            await Provider(pool).RollBackWithdrawalAsync(Credits.FromCredits(3m), withdrawal);
        }

        var lease = await _market.GetLeaseAsync(active.Id);
        Assert.Equal((active.Escrowed, 1), (lease.Escrowed, ReorgedOut(lease)));
        Assert.Equal(Credits.Zero, (await Provider(pool).GetAsync()).Withdrawn);
    }
}
