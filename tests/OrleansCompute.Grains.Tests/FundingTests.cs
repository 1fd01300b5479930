using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

[Collection(MarketClusterCollection.Name)]
public sealed class FundingTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    [Fact]
    public async Task Escrow_that_matches_the_lease_makes_it_Active_and_its_slots_Leased()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 3);
        var tenant = Tenant.New();
        var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool, slots: 2, hours: 4));
        var escrow = TestMarket.MatchingEscrow(reserved, tenant);

        var lease = await _market.Lease(reserved.Id).ConfirmFundingAsync(escrow);

        Assert.NotNull(lease);
        Assert.Equal(LeaseStatus.Active, lease.Status);
        Assert.Equal(escrow.TransactionHash, lease.FundingTransaction);
        Assert.NotNull(lease.StartedAt);
        Assert.Equal(lease.StartedAt + TimeSpan.FromHours(4), lease.EndsAt);
        Assert.Equal(
            [LeaseStatus.Requested, LeaseStatus.Reserved, LeaseStatus.Funded, LeaseStatus.Active],
            lease.History.Select(t => t.Status));
        Assert.Equal([LeaseReasons.EscrowFunded, LeaseReasons.SlotsActivated], lease.History.Skip(2).Select(t => t.Reason));

        foreach (var slotKey in lease.SlotKeys)
        {
            var slot = await _market.Slot(slotKey).GetAsync();
            Assert.Equal(SlotStatus.Leased, slot.Status);
            Assert.Equal(lease.Id, slot.LeaseId);
            Assert.Equal(lease.EndsAt, slot.HeldUntil);
        }
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
        await _market.AssertPoolAgreesWithSlotsAsync(pool);
    }

    [Fact]
    public async Task Escrow_that_holds_more_and_lasts_longer_than_asked_still_matches()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var tenant = Tenant.New();
        var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool));
        var generous = TestMarket.MatchingEscrow(reserved, tenant) with
        {
            Tenant = tenant.Address.ToLowerInvariant(),
            Provider = reserved.ProviderAddress!.ToUpperInvariant().Replace("0X", "0x"),
            Deposit = reserved.Deposit + Credits.FromUnits(1),
            Expiry = reserved.EscrowExpiry!.Value.AddDays(1),
        };

        var lease = await _market.Lease(reserved.Id).ConfirmFundingAsync(generous);

        Assert.Equal(LeaseStatus.Active, lease!.Status);
    }

    public static TheoryData<string> Mismatches => ["wrong provider", "too small a deposit", "wrong tenant", "short expiry"];

    [Theory]
    [MemberData(nameof(Mismatches))]
    public async Task Escrow_that_does_not_match_fails_the_lease_and_frees_its_slots(string mismatch)
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 3);
        var tenant = Tenant.New();
        var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool, slots: 2));
        var matching = TestMarket.MatchingEscrow(reserved, tenant);
        var escrow = mismatch switch
        {
            "wrong provider" => matching with { Provider = TestMarket.NewAddress() },
            "too small a deposit" => matching with { Deposit = reserved.Deposit - Credits.FromUnits(1) },
            "wrong tenant" => matching with { Tenant = Tenant.New().Address },
            "short expiry" => matching with { Expiry = reserved.EscrowExpiry!.Value.AddSeconds(-1) },
            _ => throw new ArgumentOutOfRangeException(nameof(mismatch)),
        };

        var lease = await _market.Lease(reserved.Id).ConfirmFundingAsync(escrow);

        Assert.Equal(LeaseStatus.Failed, lease!.Status);
        Assert.Equal(LeaseReasons.EscrowMismatch, lease.History[^1].Reason);
        Assert.Null(lease.StartedAt);
        foreach (var slotKey in reserved.SlotKeys)
        {
            var slot = await _market.Slot(slotKey).GetAsync();
            Assert.Equal(SlotStatus.Available, slot.Status);
            Assert.Null(slot.LeaseId);
        }
        var snapshot = await _market.Pool(pool).GetAsync();
        Assert.Equal(3, snapshot.AvailableSlots);
        Assert.Empty(snapshot.Holders);
        Assert.Equal(LeaseStatus.Failed, (await _market.GetLeaseAsync(reserved.Id)).Status);
    }

    [Fact]
    public async Task A_second_confirmation_of_the_funding_changes_nothing()
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var tenant = Tenant.New();
        var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool));
        var escrow = TestMarket.MatchingEscrow(reserved, tenant);
        var first = await _market.Lease(reserved.Id).ConfirmFundingAsync(escrow);

        var again = await _market.Lease(reserved.Id).ConfirmFundingAsync(escrow);
        var mismatchAfterwards = await _market.Lease(reserved.Id).ConfirmFundingAsync(escrow with { Provider = TestMarket.NewAddress(), TransactionHash = TestMarket.NewTransactionHash() });

        foreach (var snapshot in new[] { again!, mismatchAfterwards!, await _market.GetLeaseAsync(reserved.Id) })
        {
            Assert.Equal(LeaseStatus.Active, snapshot.Status);
            Assert.Equal(first!.History.Count, snapshot.History.Count);
            Assert.Equal(first.StartedAt, snapshot.StartedAt);
            Assert.Equal(escrow.TransactionHash, snapshot.FundingTransaction);
        }
        Assert.Equal(1, (await _market.Pool(pool).GetAsync()).AvailableSlots);
        await _market.AssertPoolAgreesWithSlotsAsync(pool);
    }

    [Fact]
    public async Task Funding_seen_for_an_unknown_lease_is_ignored()
    {
        var escrow = new EscrowFunded(Tenant.New().Address, TestMarket.NewAddress(), Credits.FromCredits(1), DateTimeOffset.UtcNow.AddDays(1), TestMarket.NewTransactionHash(), 1);

        Assert.Null(await _market.Lease(Guid.NewGuid()).ConfirmFundingAsync(escrow));
    }
}
