using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>
/// Vouchers are sent after a restart, which ends every timer, without anyone asking: a settlement queue's reminder wakes
/// it while it holds vouchers not yet confirmed, and a lease's reminder hands over again a voucher it holds and has not
/// seen paid. Each reminder goes once its work is done.
/// </summary>
[Collection(DurableMarketCollection.Name)]
public sealed class SettlementRestartTests(DurableClusterFixture durable)
{
    private static RecordingEscrowSettlement Chain => DurableClusterFixture.Chain;

    /// <summary>Long enough for a restarted silo to read its reminders and for a few of their ticks.</summary>
    private static readonly TimeSpan ReminderWait = DurableClusterFixture.SettlementReminderPeriod * 10;

    private Task<SettlementAttempt> AppliedAsync(Guid leaseId, string what) =>
        Eventually.UntilAsync(() => Task.FromResult(Chain.AttemptsFor(leaseId).FirstOrDefault(a => a.Applied(leaseId))!), a => a is not null, ReminderWait, what);

    private async Task<int> RemindersAsync(IAddressable grain)
    {
        var table = durable.Cluster.Silos[0].ServiceProvider.GetRequiredService<IReminderTable>();
        return (await table.ReadRows(grain.GetGrainId())).Reminders.Count;
    }

    [Fact]
    public async Task A_queue_holding_unsent_vouchers_sends_them_after_a_restart_though_nobody_asks_and_then_lets_its_reminder_go()
    {
        var provider = TestMarket.NewAddress().ToLowerInvariant();
        var voucher = Tenant.New().Sign(Guid.NewGuid(), Credits.FromCredits(1m));
        Chain.BeUnreachableFor(voucher.LeaseId);
        await durable.Grains.GetGrain<ISettlementGrain>(provider).EnqueueAsync(voucher);
        await Eventually.UntilAsync(() => Task.FromResult(Chain.AttemptsFor(voucher.LeaseId).Count), n => n >= 1, what: "a first try, on an unreachable chain");

        await durable.RestartAsync();
        Chain.BeReachableFor(voucher.LeaseId);

        // Nothing calls the queue: only its reminder can wake it.
        var applied = await AppliedAsync(voucher.LeaseId, "the queued voucher to be sent after the restart");
        var queue = durable.Grains.GetGrain<ISettlementGrain>(provider);
        Assert.Equal(applied.Receipt!.TransactionHash, Assert.Single((await queue.GetAsync()).Items).TransactionHash);
        Assert.Equal(1, await RemindersAsync(queue));

        // Refused for good when sent again (its lease is unknown to the market, so it is never seen paid): nothing is left.
        Chain.RejectFor(voucher.LeaseId, "LeaseAlreadyClosed");
        await Eventually.UntilAsync(async () => Assert.Single((await queue.GetAsync()).Items).Status, s => s == SettlementItemStatus.Rejected,
            ReminderWait, "the voucher to be rejected for good");
        await Eventually.UntilAsync(() => RemindersAsync(queue), n => n == 0, ReminderWait, "the queue's reminder to go");
    }

    [Fact]
    public async Task A_final_voucher_saved_on_its_lease_whose_hand_over_failed_is_sent_from_the_lease_reminder_after_a_restart()
    {
        var market = new TestMarket(durable.Grains);
        var pool = await market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var ended = await market.EndedLeaseAsync(tenant, TestMarket.Request(pool));
        var voucher = tenant.Sign(ended.Id, ended.AmountOwed);
        Faults.FailCalls(nameof(ISettlementGrain.EnqueueAsync), argument => argument is SignedVoucher v && v.LeaseId == ended.Id);

        await Assert.ThrowsAnyAsync<Exception>(() => market.Lease(ended.Id).SubmitFinalVoucherAsync(tenant.Address, voucher));
        Assert.Equal(voucher, (await market.GetLeaseAsync(ended.Id)).FinalVoucher);
        await durable.RestartAsync();

        // Nothing calls the lease or the queue: the lease's reminder hands the voucher over.
        var applied = await AppliedAsync(ended.Id, "the final voucher to be sent from the lease's reminder");
        Assert.Equal([voucher], applied.Vouchers);

        // Seen paid and closed: the lease's and the queue's reminders go.
        market = new TestMarket(durable.Grains);
        var settled = new EscrowSettled(pool.PayoutAddress, ended.AmountOwed, ended.AmountOwed, applied.Receipt!.TransactionHash, 900);
        await market.Lease(ended.Id).ConfirmSettledAsync(settled);
        await market.Lease(ended.Id).ConfirmClosedAsync(new EscrowClosed(ended.Deposit - ended.AmountOwed, settled.TransactionHash, 900));
        Assert.Equal(LeaseStatus.Settled, (await market.GetLeaseAsync(ended.Id)).Status);
        await Eventually.UntilAsync(async () => Assert.Single((await market.Settlement(pool).GetAsync()).Items).Status, s => s == SettlementItemStatus.Confirmed,
            ReminderWait, "the voucher to be confirmed");
        Assert.Equal(0, await RemindersAsync(market.Lease(ended.Id)));
        await Eventually.UntilAsync(() => RemindersAsync(market.Settlement(pool)), n => n == 0, ReminderWait, "the queue's reminder to go");
    }
}
