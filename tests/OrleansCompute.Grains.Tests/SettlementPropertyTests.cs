// Random interleavings of final vouchers for several leases at two or three providers (some for nothing, some sent in one
// batch) with the faults of a real chain: transactions lost after their receipt, an unreachable RPC endpoint, events
// handed over again by a restarted watcher, reorganizations that remove applied settlements (handed back, sometimes twice,
// sometimes mined again), a watcher that lags beyond the confirm timeout (so submitted vouchers are sent again), and
// tenants that open their next lease on a closed escrow's channel at once (so a voucher sent again is refused as
// LeaseReplaced, though it paid). The escrow contract and the watcher are modelled (EscrowContractModel). Between steps each lease
// grain must hold what the watcher handed it, and each provider's account what its leases were paid; once the faults stop
// and the pipeline has run quiet, the money must add up: each escrow closed exactly once on the chain as it stands, each
// lease paid what its tenant signed (never more) and settled, each provider credited its leases' sum, and each voucher's
// settlement item confirmed, and no lease told that its voucher was rejected.
using CsCheck;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Grains.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansCompute.Grains.Tests;

[Collection(MarketClusterCollection.Name)]
public sealed class SettlementPropertyTests(ClusterFixture cluster, ITestOutputHelper output)
{
    /// <summary>Vouchers are submitted in this many rounds, each followed by a few watcher and chain steps.</summary>
    private const int Rounds = 4;

    /// <summary>Each lost batch costs a confirm timeout before it is sent again: a few keep a scenario short.</summary>
    private const int MaxLost = 2;

    /// <summary>After a round's vouchers: long enough for them to reach the chain (a flush delay, a write or two), so that its steps meet them there.</summary>
    private static readonly TimeSpan RoundPause = TimeSpan.FromMilliseconds(150);

    /// <summary>How long the pipeline may take, fault-free, to settle everything after the faults stop.</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A lease at provider <see cref="Provider"/>; <see cref="Unstarted"/>, a block ended before it starts, whose final
    /// voucher is for 0; <see cref="ReusesChannel"/>, its tenant opens its next lease on the escrow's channel once it closes.
    /// </summary>
    public sealed record LeaseShape(int Provider, int Slots, bool Unstarted, bool ReusesChannel)
    {
        public override string ToString() =>
            $"provider {Provider}, {Slots} slot(s){(Unstarted ? ", ended before it starts (owes 0)" : "")}{(ReusesChannel ? ", channel reused once closed" : "")}";
    }

    public abstract record Step;

    /// <summary>The watcher polls; <see cref="Replay"/> &gt; 0, it restarted that many transactions back and hands them over again first.</summary>
    public sealed record Watch(int Replay) : Step
    {
        public override string ToString() => Replay == 0 ? "Watch" : $"Watch(restarted {Replay} tx(s) back)";
    }

    /// <summary>The newest blocks back to the <see cref="Depth"/>-th that applied anything are replaced.</summary>
    public sealed record Reorg(int Depth, bool Remine, bool HandBackTwice) : Step
    {
        public override string ToString() => $"Reorg(depth {Depth}{(Remine ? ", mined again" : "")}{(HandBackTwice ? ", handed back twice" : "")})";
    }

    public sealed record Wait(int Milliseconds) : Step
    {
        public override string ToString() => $"Wait({Milliseconds} ms)";
    }

    /// <summary>The watcher hands nothing over for longer than the confirm timeout: vouchers it has not shown paid go again.</summary>
    public sealed record Lag(int Milliseconds) : Step
    {
        public override string ToString() => $"Lag({Milliseconds} ms, beyond the confirm timeout)";
    }

    /// <summary>Lease i's final voucher is submitted in round <c>Rounds[i]</c>; <see cref="Faults"/> befall the batches in the order they are sent.</summary>
    public sealed record Scenario(decimal[] Prices, LeaseShape[] Leases, int[] Rounds, Step[][] Interludes, BatchFault[] Faults)
    {
        public override string ToString() =>
            $"providers: {string.Join("; ", Prices.Select((p, i) => $"{i}: {p}/slot-hour"))}\n" +
            string.Join("\n", Leases.Select((l, i) => $"  L{i}: {l}, round {Rounds[i]}")) + "\n" +
            string.Join("\n", Interludes.Select((steps, r) => $"  after round {r}: {string.Join(", ", steps.AsEnumerable())}")) + "\n" +
            $"  batch faults: {string.Join(", ", Faults)}";
    }

    private static readonly Gen<Step> Steps = Gen.Frequency(
        (4, Gen.Frequency((3, Gen.Const(0)), (1, Gen.Int[1, 3])).Select(replay => (Step)new Watch(replay))),
        (3, Gen.Select(Gen.Int[1, 2], Gen.Bool, Gen.Bool, (depth, remine, twice) => (Step)new Reorg(depth, remine, twice))),
        (2, Gen.Int[50, 600].Select(ms => (Step)new Wait(ms))),
        (1, Gen.Int[LagFrom, LagFrom + 600].Select(ms => (Step)new Lag(ms))));

    /// <summary>Beyond the confirm timeout and a confirmation check after it, so that a voucher submitted before the lag is sent again during it.</summary>
    private static readonly int LagFrom = (int)(ClusterFixture.SettlementConfirmTimeout.TotalMilliseconds * 1.3);

    private static readonly Gen<BatchFault> Faults = Gen.Frequency(
        (4, Gen.Const(BatchFault.None)), (1, Gen.Const(BatchFault.Lost)), (2, Gen.Const(BatchFault.Unreachable)));

    private static readonly Gen<Scenario> Scenarios =
        from prices in Gen.OneOf(1.60m, 2.40m, 3.00m).Array[2, 3]
        // One lease in four is a block ended before it starts, owing nothing.
        from leases in Gen.Select(Gen.Int[0, prices.Length - 1], Gen.Int[1, 2], Gen.Int[0, 3], Gen.Bool,
            (provider, slots, unstarted, reuses) => new LeaseShape(provider, slots, unstarted == 0, reuses)).Array[6, 10]
        from rounds in Gen.Int[0, Rounds - 1].Array[leases.Length]
        from interludes in Steps.Array[2, 4].Array[Rounds]
        from faults in Faults.Array[3, 8]
        where faults.Count(f => f == BatchFault.Lost) <= MaxLost
        select new Scenario(prices, leases, rounds, interludes, faults);

    [Fact]
    public async Task Under_lost_transactions_an_unreachable_chain_replayed_events_and_reorgs_each_lease_is_paid_once_and_settled_once()
    {
        // A scenario takes about 5 s, mostly waiting out confirm timeouts (3 s) of lost or reorganized transactions: five
        // fat ones (6 to 10 leases, a dozen steps, a few faults) keep this test near 25 s on two cores.
        await Scenarios.SampleAsync(scenario => new Run(cluster, scenario, output).ExecuteAsync(), iter: PropertyRuns.Or(5), threads: 1, print: s => "\n" + s);
    }

    private sealed record KnownLease(string Name, LeaseSnapshot Ended, Tenant Tenant, PoolDefinition Pool, SignedVoucher Voucher)
    {
        public Guid Id => Ended.Id;
    }

    /// <summary>One scenario: its own pools (one per provider, each in its own region), tenants and contract model.</summary>
    private sealed class Run(ClusterFixture cluster, Scenario scenario, ITestOutputHelper output)
    {
        private readonly TestMarket _market = new(cluster.Grains);
        private readonly EscrowContractModel _contract = new();
        private readonly List<KnownLease> _leases = [];
        private readonly List<PoolDefinition> _pools = [];

        private IGrainFactory Grains => cluster.Grains;

        public async Task ExecuteAsync()
        {
            foreach (var price in scenario.Prices)
                _pools.Add(await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2, pricePerSlotHour: price));
            for (var i = 0; i < scenario.Leases.Length; i++) _leases.Add(await EndLeaseAsync($"L{i}", scenario.Leases[i]));
            foreach (var lease in _leases)
            {
                _contract.Open(lease.Id, lease.Name, lease.Pool.PayoutAddress, lease.Ended.Deposit, lease.Voucher, scenario.Leases[_leases.IndexOf(lease)].ReusesChannel);
                Note($"{lease.Name} = {lease.Id} at {lease.Pool.PayoutAddress}: owes {lease.Voucher.Amount} of {lease.Ended.Deposit}");
            }

            using (ClusterFixture.Chain.Route(_leases.Select(l => l.Id), _contract))
            {
                _contract.PlanFaults(scenario.Faults);
                for (var round = 0; round < Rounds; round++)
                {
                    var group = _leases.Where((_, i) => scenario.Rounds[i] == round).ToList();
                    Note($"round {round}: final vouchers of [{string.Join(", ", group.Select(l => l.Name))}]");
                    await Task.WhenAll(group.Select(l => _market.Lease(l.Id).SubmitFinalVoucherAsync(l.Tenant.Address, l.Voucher)));
                    await Task.Delay(RoundPause);
                    foreach (var step in scenario.Interludes[round])
                    {
                        Note($"  {step}");
                        await ApplyAsync(step);
                        await CheckWatchedAsync();
                    }
                }
                _contract.StopFaults();
                await QuietAsync();
            }
            await CheckAsync();
            output.WriteLine(Summary());
        }

        private async Task<KnownLease> EndLeaseAsync(string name, LeaseShape shape)
        {
            var pool = _pools[shape.Provider];
            var tenant = Tenant.New();
            LeaseSnapshot ended;
            if (shape.Unstarted)
            {
                var request = TestMarket.Request(pool, shape.Slots) with { Start = DateTimeOffset.UtcNow.AddHours(2) };
                var block = await _market.FundAsync(await _market.RequestAsync(tenant, request), tenant);
                ended = await _market.Lease(block.Id).EndAsync(tenant.Address);
            }
            else
            {
                ended = await _market.EndedLeaseAsync(tenant, TestMarket.Request(pool, shape.Slots));
            }
            Expect(ended.Status == LeaseStatus.Ended && ended.PoolKey == pool.PoolKey && (ended.AmountOwed == Credits.Zero) == shape.Unstarted,
                $"{name} ({shape}) came out {ended.Status} in {ended.PoolKey} owing {ended.AmountOwed}");
            return new KnownLease(name, ended, tenant, pool, tenant.Sign(ended.Id, ended.AmountOwed));
        }

        private async Task ApplyAsync(Step step)
        {
            switch (step)
            {
                case Watch watch:
                    await _contract.DeliverAsync(Grains, watch.Replay);
                    break;
                case Reorg reorg:
                    if (!await _contract.ReorganizeAsync(Grains, reorg.Depth, reorg.Remine, reorg.HandBackTwice)) Note("    → nothing applied yet to remove");
                    break;
                case Wait wait:
                    await Task.Delay(wait.Milliseconds);
                    break;
                case Lag lag:
                    await Task.Delay(lag.Milliseconds);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(step), step, null);
            }
        }

        /// <summary>
        /// Between steps every lease grain holds what the watcher has handed it of the chain as it stands (duplicates and
        /// handed-back events folded in once), and each provider's account earned what its leases were paid.
        /// </summary>
        private async Task CheckWatchedAsync()
        {
            var (leases, _) = await ReadAsync();
            for (var i = 0; i < _leases.Count; i++)
            {
                var (paid, closed) = _contract.Watched(_leases[i].Id);
                Expect(leases[i].Paid == paid && (leases[i].Status == LeaseStatus.Settled) == closed,
                    $"{_leases[i].Name}: the lease is {leases[i].Status} paid {leases[i].Paid}; the watcher handed it paid {paid}, the escrow {(closed ? "closed" : "open")}");
            }
            foreach (var pool in _pools)
            {
                var paid = _leases.Select((l, i) => (l, i)).Where(x => x.l.Pool == pool).Aggregate(Credits.Zero, (sum, x) => sum + leases[x.i].Paid);
                var earned = (await Grains.GetGrain<IAccountGrain>(AccountKeys.Normalize(pool.PayoutAddress)).GetAsync()).Earned;
                Expect(earned == paid, $"provider {pool.PayoutAddress}: its account earned {earned}; its leases count {paid} paid");
            }
        }

        /// <summary>Lets the pipeline run fault-free, the watcher handing over what is mined, until every lease is settled and every item confirmed.</summary>
        private async Task QuietAsync()
        {
            var deadline = DateTime.UtcNow + Quiet;
            while (true)
            {
                await _contract.DeliverAsync(Grains);
                var (leases, items) = await ReadAsync();
                // Rejected is final too once no reorganization can hand the voucher in again: the checks say what went wrong.
                if (_contract.Pending == 0 && leases.All(l => l.Status == LeaseStatus.Settled) &&
                    items.All(i => i.Status is SettlementItemStatus.Confirmed or SettlementItemStatus.Rejected))
                    return;
                if (DateTime.UtcNow > deadline)
                    Fail($"not settled {Quiet.TotalSeconds:0} s after the faults stopped:\n{Describe(leases, items)}");
                await Task.Delay(100);
            }
        }

        private async Task<(LeaseSnapshot[] Leases, List<SettlementItem> Items)> ReadAsync()
        {
            var leases = await Task.WhenAll(_leases.Select(l => _market.GetLeaseAsync(l.Id)));
            var ours = _leases.Select(l => l.Id).ToHashSet();
            var items = new List<SettlementItem>();
            foreach (var pool in _pools) items.AddRange((await _market.Settlement(pool).GetAsync()).Items.Where(i => ours.Contains(i.Voucher.LeaseId)));
            return (leases, items);
        }

        private string Describe(LeaseSnapshot[] leases, List<SettlementItem> items) => string.Join("\n", _leases.Select((known, i) =>
        {
            var lease = leases[i];
            var escrow = _contract[known.Id];
            var its = items.Where(it => it.Voucher.LeaseId == known.Id).Select(it => $"{it.Status}{(it.Error is null ? "" : $" ({it.Error})")}");
            return $"  {known.Name}: lease {lease.Status} paid {lease.Paid} refunded {lease.Refunded}; " +
                $"chain paid {escrow.Paid}{(escrow.Closed ? " closed" : " open")}; items [{string.Join(", ", its)}]";
        }));

        private async Task CheckAsync()
        {
            var (leases, items) = await ReadAsync();
            var problems = new List<string>();
            void Check(bool condition, string problem)
            {
                if (!condition) problems.Add(problem);
            }

            Check(_contract.Strangers.Count == 0,
                $"the contract was sent vouchers no tenant signed: {string.Join(", ", _contract.Strangers.Select(v => $"{v.LeaseId} for {v.Amount}"))}");
            for (var i = 0; i < _leases.Count; i++)
            {
                var (known, lease, escrow) = (_leases[i], leases[i], _contract[_leases[i].Id]);
                var name = known.Name;
                // The chain: closed once by the transactions that survived every reorganization, paid exactly what was signed.
                Check(_contract.Closes(known.Id) == 1, $"{name}: the chain as it stands closed its escrow {_contract.Closes(known.Id)} time(s)");
                Check(_contract.Applications(known.Id) == 1, $"{name}: the chain as it stands applied {_contract.Applications(known.Id)} of its vouchers");
                Check(escrow.Closed && escrow.Paid == known.Voucher.Amount, $"{name}: the contract paid {escrow.Paid} (closed: {escrow.Closed}); the tenant signed {known.Voucher.Amount}");
                // The lease: settled, as paid as the chain says, the rest refunded, and settled once per close it was handed.
                Check(lease.Status == LeaseStatus.Settled, $"{name}: the lease is {lease.Status}");
                Check(lease.Paid == escrow.Paid, $"{name}: the lease counts {lease.Paid} paid; the chain paid {escrow.Paid}");
                Check(lease.Refunded == known.Ended.Deposit - escrow.Paid, $"{name}: the lease counts {lease.Refunded} refunded of {known.Ended.Deposit}; paid {escrow.Paid}");
                var settledTransitions = lease.History.Count(t => t.Reason == LeaseReasons.SettledOnChain);
                Check(settledTransitions == escrow.ClosesDelivered,
                    $"{name}: the lease settled {settledTransitions} time(s); the watcher handed it {escrow.ClosesDelivered} close(s), each once more only after a reorganization");
                // Every voucher paid: none was rejected, to its queue or to its lease.
                Check(lease.History.All(t => t.Reason != LeaseReasons.SettlementRejected),
                    $"{name}: the lease was told its voucher was rejected ({string.Join("; ", lease.History.Where(t => t.Reason == LeaseReasons.SettlementRejected).Select(t => t.Detail))}); the chain paid it");
                var its = items.Where(it => it.Voucher.LeaseId == known.Id).ToList();
                Check(its.Count == 1 && its[0].Status == SettlementItemStatus.Confirmed && its[0].Voucher == known.Voucher,
                    $"{name}: its settlement items are [{string.Join(", ", its.Select(it => $"{it.Status}{(it.Error is null ? "" : $" ({it.Error})")}"))}]; the chain paid it");
            }
            foreach (var pool in _pools)
            {
                var owed = _leases.Where(l => l.Pool == pool).Aggregate(Credits.Zero, (sum, l) => sum + l.Voucher.Amount);
                var balance = _contract.Balance(pool.PayoutAddress);
                var earned = (await Grains.GetGrain<IAccountGrain>(AccountKeys.Normalize(pool.PayoutAddress)).GetAsync()).Earned;
                Check(balance == owed && _contract.BalanceOnChain(pool.PayoutAddress) == balance,
                    $"provider {pool.PayoutAddress}: the contract credited {balance} ({_contract.BalanceOnChain(pool.PayoutAddress)} by its transactions); its leases' vouchers sum to {owed}");
                Check(earned == balance, $"provider {pool.PayoutAddress}: its account earned {earned}; the contract credited it {balance}");
            }
            if (problems.Count > 0) Fail($"{string.Join("\n", problems)}\n{Describe(leases, items)}");
        }

        /// <summary>What the run went through, so that a green run shows what it covered.</summary>
        private string Summary()
        {
            var batches = _contract.Batches;
            var stats = _contract.Stats;
            return $"{_leases.Count} leases ({_leases.Count(l => l.Voucher.Amount == Credits.Zero)} for nothing) at {_pools.Count} providers; " +
                $"{batches.Count} batches ({batches.Count(b => b.Size > 1)} of several vouchers, {batches.Count(b => b.Fault == BatchFault.Lost)} lost, " +
                $"{batches.Count(b => b.Fault == BatchFault.Unreachable)} unreachable); {stats.Reorgs} reorg(s) removing {stats.Removed} payment(s), " +
                $"{stats.HandedBack} handed back, {stats.Remined} tx(s) mined again; {stats.Replays} watcher restart(s); " +
                $"{scenario.Interludes.Sum(steps => steps.Count(s => s is Lag))} lag(s) beyond the confirm timeout; {_contract.Refused} voucher(s) refused as LeaseReplaced";
        }

        private void Expect(bool condition, string message)
        {
            if (!condition) Fail(message);
        }

        private void Note(string line) => _contract.Note(line);

        private void Fail(string message) => Assert.Fail($"{message}\nafter:\n{string.Join("\n", _contract.Log)}");
    }
}
