using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

[Collection(MarketClusterCollection.Name)]
public sealed class ExpiryTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    private Task<LeaseSnapshot> ExpiredAsync(Guid leaseId) =>
        Eventually.UntilAsync(() => _market.GetLeaseAsync(leaseId), l => l.Status != LeaseStatus.Reserved,
            ClusterFixture.FundingWindow + TimeSpan.FromSeconds(10), "the reservation to lapse");

    [Fact]
    public async Task Reservation_not_funded_in_time_expires_and_frees_its_slots_while_a_funded_one_stays_Active()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 3);
        var tenant = Tenant.New();
        var unfunded = await _market.RequestAsync(tenant, TestMarket.Request(pool, slots: 2));
        var funded = await _market.ActiveLeaseAsync(tenant, TestMarket.Request(pool, slots: 1));

        var lease = await ExpiredAsync(unfunded.Id);

        Assert.Equal(LeaseStatus.Expired, lease.Status);
        Assert.Equal(LeaseReasons.ReservationNotFunded, lease.History[^1].Reason);
        Assert.True(lease.History[^1].At >= unfunded.FundBy, "a reservation is not released before its funding deadline");
        foreach (var slotKey in unfunded.SlotKeys)
        {
            var slot = await _market.Slot(slotKey).GetAsync();
            Assert.Equal(SlotStatus.Available, slot.Status);
            Assert.Null(slot.LeaseId);
        }

        Assert.Equal(LeaseStatus.Active, (await _market.GetLeaseAsync(funded.Id)).Status);
        var snapshot = await _market.Pool(pool).GetAsync();
        Assert.Equal(2, snapshot.AvailableSlots);
        Assert.All(snapshot.Holders.Values, holder => Assert.Equal(funded.Id, holder));
        await _market.AssertPoolAgreesWithSlotsAsync(pool);

        var again = await _market.RequestAsync(Tenant.New(), TestMarket.Request(pool, slots: 2));
        Assert.Equal(LeaseStatus.Reserved, again.Status);
    }

    [Fact]
    public async Task Funding_seen_after_the_reservation_expired_fails_the_lease_and_leases_no_slot()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool, slots: 2));
        Assert.Equal(LeaseStatus.Expired, (await ExpiredAsync(reserved.Id)).Status);
        var other = await _market.RequestAsync(Tenant.New(), TestMarket.Request(pool, slots: 1));

        var lease = await _market.Lease(reserved.Id).ConfirmFundingAsync(TestMarket.MatchingEscrow(reserved, tenant));

        Assert.Equal(LeaseStatus.Failed, lease!.Status);
        Assert.Equal(LeaseReasons.FundedAfterExpiry, lease.History[^1].Reason);
        Assert.Null(lease.StartedAt);
        var (snapshot, slots) = await _market.ReadPoolAsync(pool);
        Assert.DoesNotContain(reserved.Id, snapshot.Holders.Values);
        Assert.DoesNotContain(slots, s => s.LeaseId == reserved.Id);
        Assert.DoesNotContain(slots, s => s.Status == SlotStatus.Leased);
        Assert.Equal([other.Id], snapshot.Holders.Values);
        TestMarket.AssertAgree(pool, snapshot, slots);
    }

    [Fact]
    public async Task Funding_that_races_the_deadline_either_activates_the_lease_or_finds_it_expired_never_both()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 8);
        var tenant = Tenant.New();
        var reserved = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => _market.RequestAsync(tenant, TestMarket.Request(pool))));

        // Each escrow is seen at a different moment from well before to just after its lease's deadline.
        // The first well inside the 2 s window, so that one lease surely activates however slow the machine.
        int[] offsetsMs = [-1500, -300, -150, -50, 0, 25, 50, 100];
        var funded = await Task.WhenAll(reserved.Select(async (lease, i) =>
        {
            var seenAt = lease.FundBy!.Value + TimeSpan.FromMilliseconds(offsetsMs[i]);
            var wait = seenAt - DateTimeOffset.UtcNow;
            if (wait > TimeSpan.Zero) await Task.Delay(wait);
            return await _market.Lease(lease.Id).ConfirmFundingAsync(TestMarket.MatchingEscrow(lease, tenant));
        }));

        var (snapshot, slots) = await _market.ReadPoolAsync(pool);
        TestMarket.AssertAgree(pool, snapshot, slots);
        foreach (var lease in funded)
        {
            var now = await _market.GetLeaseAsync(lease!.Id);
            if (now.Status == LeaseStatus.Active)
            {
                Assert.Equal(lease.SlotKeys, [MarketKeys.Slot(pool.PoolKey, snapshot.Holders.Single(h => h.Value == lease.Id).Key)]);
                Assert.Equal(SlotStatus.Leased, (await _market.Slot(lease.SlotKeys[0]).GetAsync()).Status);
            }
            else
            {
                Assert.Equal(LeaseStatus.Failed, now.Status);
                Assert.Equal(LeaseReasons.FundedAfterExpiry, now.History[^1].Reason);
                Assert.DoesNotContain(lease.Id, snapshot.Holders.Values);
            }
        }
        Assert.Contains(funded, l => l!.Status == LeaseStatus.Active);
    }

    [Fact]
    public async Task An_expired_lease_cannot_be_ended()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool));
        await ExpiredAsync(reserved.Id);

        var refused = await Assert.ThrowsAsync<MarketException>(() => _market.Lease(reserved.Id).EndAsync(tenant.Address));

        Assert.Equal(MarketError.Conflict, refused.Error);
        Assert.Equal(LeaseStatus.Expired, (await _market.GetLeaseAsync(reserved.Id)).Status);
    }
}
