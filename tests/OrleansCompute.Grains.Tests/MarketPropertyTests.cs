// Random sequences of market operations by several tenants, some run concurrently, with the booking
// invariants checked after every step.
using CsCheck;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

[Collection(MarketClusterCollection.Name)]
public sealed class MarketPropertyTests(ClusterFixture cluster)
{
    private const int PoolSlots = 4;
    private const int Tenants = 3;
    private readonly TestMarket _market = new(cluster.Grains);

    public enum Action { Request, Fund, FundWrongly, End, EndAsStranger, CloseOnChain }

    public sealed record Op(Action Action, int Tenant, int Lease, int Slots)
    {
        public override string ToString() => $"{Action}(tenant {Tenant}, lease #{Lease}, {Slots} slot(s))";
    }

    private static readonly Gen<Action> Actions = Gen.Frequency(
        (4, Gen.Const(Action.Request)),
        (3, Gen.Const(Action.Fund)),
        (1, Gen.Const(Action.FundWrongly)),
        (3, Gen.Const(Action.End)),
        (1, Gen.Const(Action.EndAsStranger)),
        (1, Gen.Const(Action.CloseOnChain)));

    private static readonly Gen<Op> Ops = Gen.Select(Actions, Gen.Int[0, Tenants - 1], Gen.Int[0, 31], Gen.Int[1, 3],
        (action, tenant, lease, slots) => new Op(action, tenant, lease, slots));

    /// <summary>Steps of one to four operations; the operations of a step run at the same time.</summary>
    private static readonly Gen<Op[][]> Scenarios = Ops.Array[1, 4].Array[4, 12];

    [Fact]
    public async Task Any_interleaving_of_requests_funding_ending_and_cancelling_holds_each_slot_for_at_most_one_lease()
    {
        await Scenarios.SampleAsync(RunAsync, iter: PropertyRuns.Or(60), threads: 2,
            print: steps => string.Join(" | ", steps.Select(step => string.Join(" & ", step.AsEnumerable()))));
    }

    private sealed record Booked(LeaseSnapshot Reserved, Tenant Tenant);

    private async Task RunAsync(Op[][] steps)
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: PoolSlots);
        var tenants = Enumerable.Range(0, Tenants).Select(_ => Tenant.New()).ToArray();
        var leases = new List<Booked>();

        foreach (var step in steps)
        {
            var known = leases.ToArray();
            var freeBefore = (await _market.Pool(pool).GetAsync()).AvailableSlots;
            var outcomes = await Task.WhenAll(step.Select(op => ApplyAsync(pool, op, tenants, known)));
            leases.AddRange(outcomes.OfType<Booked>());

            if (step is [{ Action: Action.Request } alone] && outcomes[0] is MarketException)
            {
                // Expiry can only free slots meanwhile, so a refusal means there really was no room.
                Assert.True(freeBefore < alone.Slots, $"{alone} was refused with {freeBefore} slot(s) free.");
            }
            await AssertInvariantsAsync(pool, leases);
        }
    }

    private async Task<object?> ApplyAsync(PoolDefinition pool, Op op, Tenant[] tenants, Booked[] known)
    {
        var tenant = tenants[op.Tenant];
        if (op.Action == Action.Request)
        {
            try
            {
                return new Booked(await _market.RequestAsync(tenant, TestMarket.Request(pool, op.Slots)), tenant);
            }
            catch (MarketException e) when (e.Reason == "NoCapacityInWindow")
            {
                return e;
            }
        }

        if (known.Length == 0) return null;
        var (reserved, owner) = known[op.Lease % known.Length];
        var lease = _market.Lease(reserved.Id);
        switch (op.Action)
        {
            case Action.Fund:
                await lease.ConfirmFundingAsync(TestMarket.MatchingEscrow(reserved, owner));
                break;
            case Action.FundWrongly:
                await lease.ConfirmFundingAsync(TestMarket.MatchingEscrow(reserved, owner) with { Deposit = reserved.Deposit - Credits.FromUnits(1) });
                break;
            case Action.End:
                try
                {
                    await lease.EndAsync(owner.Address);
                }
                catch (MarketException e) when (e.Error == MarketError.Conflict)
                {
                    // Expired, failed or refunded leases cannot be ended; that is an answer, not a fault.
                }
                break;
            case Action.EndAsStranger:
                var refused = await Assert.ThrowsAsync<MarketException>(() => lease.EndAsync(tenants.First(t => t != owner).Address));
                Assert.Equal(MarketError.NotYourLease, refused.Error);
                break;
            case Action.CloseOnChain:
                await lease.ConfirmClosedAsync(new EscrowClosed(reserved.Deposit, TestMarket.NewTransactionHash(), 1));
                break;
        }
        return null;
    }

    private async Task AssertInvariantsAsync(PoolDefinition pool, List<Booked> leases)
    {
        // Read pool, slots and leases at one moment: retry while a lease's expiry timer moves slots underneath.
        PoolSnapshot snapshot;
        IReadOnlyList<SlotSnapshot> slots;
        LeaseSnapshot[] current;
        var attempt = 0;
        while (true)
        {
            var before = await _market.Pool(pool).GetAsync();
            slots = await _market.SlotsAsync(pool);
            current = await Task.WhenAll(leases.Select(l => _market.GetLeaseAsync(l.Reserved.Id)));
            snapshot = await _market.Pool(pool).GetAsync();
            if (before.Holders.OrderBy(h => h.Key).SequenceEqual(snapshot.Holders.OrderBy(h => h.Key)) || ++attempt == 20) break;
        }

        TestMarket.AssertAgree(pool, snapshot, slots);

        var live = current.Where(l => l.Status is LeaseStatus.Reserved or LeaseStatus.Active).ToList();
        var claimed = live.SelectMany(l => l.SlotKeys).ToList();
        Assert.True(claimed.Count == claimed.Distinct().Count(), "a slot is claimed by two live leases");
        Assert.Equal(claimed.Count, snapshot.Holders.Count);

        foreach (var lease in current)
        {
            Assert.DoesNotContain(lease.Status, new[] { LeaseStatus.Requested, LeaseStatus.Funded });
            var held = snapshot.Holders.Where(h => h.Value == lease.Id).Select(h => MarketKeys.Slot(pool.PoolKey, h.Key)).Order().ToList();
            if (lease.Status is LeaseStatus.Reserved or LeaseStatus.Active)
            {
                Assert.Equal(lease.SlotKeys.Order(), held);
                var expected = lease.Status == LeaseStatus.Active ? SlotStatus.Leased : SlotStatus.Reserved;
                Assert.All(held, key => Assert.Equal(expected, slots[MarketKeys.ParseSlot(key).Index].Status));
            }
            else
            {
                Assert.True(held.Count == 0, $"lease {lease.Id} is {lease.Status} yet holds {string.Join(", ", held)}");
            }
        }
    }
}
