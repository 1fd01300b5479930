using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>
/// A provider's earnings follow what its leases were paid on chain, exactly once, whatever fails between the lease and its
/// provider's account: the chain watcher hands an event again after its handler failed, and the second try must do what
/// the first did not, and nothing it did.
/// </summary>
[Collection(MarketClusterCollection.Name)]
public sealed class EarningsTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    private IAccountGrain Provider(PoolDefinition pool) => _market.Grains.GetGrain<IAccountGrain>(pool.PayoutAddress.ToLowerInvariant());

    private async Task<(PoolDefinition Pool, LeaseSnapshot Lease, EscrowSettled Settled)> PaidLeaseAsync()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var active = await _market.ActiveLeaseAsync(Tenant.New(), TestMarket.Request(pool));
        var settled = new EscrowSettled(pool.PayoutAddress, Credits.FromCredits(1m), Credits.FromCredits(1m), TestMarket.NewTransactionHash(), 700);
        return (pool, active, settled);
    }

    private static Func<object?, bool> Lease(Guid leaseId) => argument => argument is Guid id && id == leaseId;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_payment_whose_account_update_failed_is_counted_once_when_the_watcher_hands_it_again(bool afterRunning)
    {
        var (pool, lease, settled) = await PaidLeaseAsync();
        Faults.FailCalls(nameof(IAccountGrain.RecordLeasePaidAsync), Lease(lease.Id), afterRunning: afterRunning);

        await Assert.ThrowsAnyAsync<Exception>(() => _market.Lease(lease.Id).ConfirmSettledAsync(settled));
        await _market.Lease(lease.Id).ConfirmSettledAsync(settled);

        Assert.Equal(settled.TotalPaid, (await _market.GetLeaseAsync(lease.Id)).Paid);
        Assert.Equal(settled.TotalPaid, (await Provider(pool).GetAsync()).Earned);
    }

    [Fact]
    public async Task A_payment_whose_lease_could_not_be_saved_is_counted_once_when_the_watcher_hands_it_again()
    {
        var (pool, lease, settled) = await PaidLeaseAsync();
        Faults.FailWrites(lease.Id.ToString("N"));

        await Assert.ThrowsAnyAsync<Exception>(() => _market.Lease(lease.Id).ConfirmSettledAsync(settled));
        // What the lease could not store it does not hold: the retry is not taken for a duplicate.
        Assert.Equal(Credits.Zero, (await _market.GetLeaseAsync(lease.Id)).Paid);
        await _market.Lease(lease.Id).ConfirmSettledAsync(settled);

        Assert.Equal(settled.TotalPaid, (await _market.GetLeaseAsync(lease.Id)).Paid);
        Assert.Equal(settled.TotalPaid, (await Provider(pool).GetAsync()).Earned);
    }

    [Fact]
    public async Task A_payment_whose_account_could_not_be_saved_is_not_counted_until_the_watcher_hands_it_again()
    {
        var (pool, lease, settled) = await PaidLeaseAsync();
        Faults.FailWrites(pool.PayoutAddress);

        await Assert.ThrowsAnyAsync<Exception>(() => _market.Lease(lease.Id).ConfirmSettledAsync(settled));
        Assert.Equal(Credits.Zero, (await Provider(pool).GetAsync()).Earned);
        await _market.Lease(lease.Id).ConfirmSettledAsync(settled);

        Assert.Equal(settled.TotalPaid, (await _market.GetLeaseAsync(lease.Id)).Paid);
        Assert.Equal(settled.TotalPaid, (await Provider(pool).GetAsync()).Earned);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_removed_payment_whose_account_update_failed_is_taken_back_once_when_the_watcher_hands_it_back_again(bool afterRunning)
    {
        var (pool, lease, settled) = await PaidLeaseAsync();
        await _market.Lease(lease.Id).ConfirmSettledAsync(settled);
        Faults.FailCalls(nameof(IAccountGrain.RecordLeasePaidAsync), Lease(lease.Id), afterRunning: afterRunning);

        await Assert.ThrowsAnyAsync<Exception>(() => _market.Lease(lease.Id).RollBackSettledAsync(settled));
        await _market.Lease(lease.Id).RollBackSettledAsync(settled);

        var rolledBack = await _market.GetLeaseAsync(lease.Id);
        Assert.Equal((Credits.Zero, 1), (rolledBack.Paid, rolledBack.History.Count(t => t.Reason == LeaseReasons.ReorgedOut)));
        Assert.Equal(Credits.Zero, (await Provider(pool).GetAsync()).Earned);
    }

    [Fact]
    public async Task Payments_of_several_leases_and_a_removed_one_add_up_in_their_provider_account()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var first = await _market.ActiveLeaseAsync(Tenant.New(), TestMarket.Request(pool));
        var second = await _market.ActiveLeaseAsync(Tenant.New(), TestMarket.Request(pool));
        var one = new EscrowSettled(pool.PayoutAddress, Credits.FromCredits(1m), Credits.FromCredits(1m), TestMarket.NewTransactionHash(), 800);
        var more = new EscrowSettled(pool.PayoutAddress, Credits.FromCredits(0.5m), Credits.FromCredits(1.5m), TestMarket.NewTransactionHash(), 801);
        var other = new EscrowSettled(pool.PayoutAddress, Credits.FromCredits(2m), Credits.FromCredits(2m), TestMarket.NewTransactionHash(), 801);

        await _market.Lease(first.Id).ConfirmSettledAsync(one);
        await _market.Lease(first.Id).ConfirmSettledAsync(more);
        await _market.Lease(second.Id).ConfirmSettledAsync(other);
        await _market.Lease(first.Id).RollBackSettledAsync(more);

        Assert.Equal(Credits.FromCredits(3m), (await Provider(pool).GetAsync()).Earned);
    }
}
