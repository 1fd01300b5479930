// Random interleavings of the whole market's operations on its durable store (reserving now and ahead, funding rightly
// and wrongly, ending and cancelling, waiting out funding windows, draining slots, standing orders, host restarts) by
// several tenants over a few small pools, checked after every step against a model of what was created and by whom.
using CsCheck;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Orders;
using OrleansCompute.Grains.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansCompute.Grains.Tests;

[Collection(DurableMarketCollection.Name)]
public sealed class MarketModelPropertyTests(DurableClusterFixture cluster, ITestOutputHelper output)
{
    private const string Kind = "h100";
    private const int Tenants = 8;
    private const int MaxRestarts = 2;

    /// <summary>How long a check lets timers, reminders and one-way calls catch up before a difference counts as a fault.</summary>
    private static readonly TimeSpan Settling = TimeSpan.FromSeconds(3);

    /// <summary>
    /// A tenant who acts this long before a deadline is expected in time. On a busy machine it may still arrive late: then
    /// the lease must show it lapsed at its deadline by the market's clock (see LapsedAtItsDeadline), not before.
    /// </summary>
    private static readonly TimeSpan InTime = TimeSpan.FromMilliseconds(500);

    public sealed record PoolShape(int Slots, decimal Floor, decimal? CeilingMultiple)
    {
        public override string ToString() => $"{Slots} slot(s) from {Floor} to {(CeilingMultiple is { } m ? $"{m}×" : "4×")}";
    }

    public abstract record Step;

    /// <summary>A lease that starts as soon as it is funded, optionally at a max price or through a quote first.</summary>
    public sealed record Reserve(int Tenant, int Slots, int Hours, decimal? MaxPrice, bool Quoted) : Step
    {
        public override string ToString() =>
            $"Reserve(tenant {Tenant}, {Slots}×{Hours}h{(MaxPrice is { } m ? $", max {m}" : "")}{(Quoted ? ", quoted" : "")})";
    }

    /// <summary>A block booked ahead: starts <see cref="StartsInHours"/> after the run's anchor, so blocks collide.</summary>
    public sealed record ReserveBlock(int Tenant, int Slots, int Hours, int StartsInHours) : Step
    {
        public override string ToString() => $"ReserveBlock(tenant {Tenant}, {Slots}×{Hours}h at +{StartsInHours}h)";
    }

    /// <summary>Steps that act on a lease or order name it counting back from the newest, so that most act on a live one.</summary>
    private static string Back(int back, string what) => back == 0 ? $"newest {what}" : $"{what} {back} before the newest";

    public sealed record Fund(int Lease) : Step
    {
        public override string ToString() => $"Fund({Back(Lease, "lease")})";
    }

    public enum Mismatch { ShortDeposit, OtherTenant, OtherProvider, EarlyExpiry }

    public sealed record FundWrongly(int Lease, Mismatch Mismatch) : Step
    {
        public override string ToString() => $"FundWrongly({Back(Lease, "lease")}, {Mismatch})";
    }

    /// <summary>The owner ends the lease: cancels a reservation, ends a funded lease.</summary>
    public sealed record End(int Lease) : Step
    {
        public override string ToString() => $"End({Back(Lease, "lease")})";
    }

    public sealed record Wait(int Milliseconds) : Step
    {
        public override string ToString() => $"Wait({Milliseconds} ms)";
    }

    /// <summary>The provider takes back the (first) slot the lease holds, or held last.</summary>
    public sealed record Drain(int Lease, int NoticeMilliseconds) : Step
    {
        public override string ToString() => $"Drain(slot of {Back(Lease, "lease")}, notice {NoticeMilliseconds} ms)";
    }

    public sealed record PlaceOrder(int Tenant, int Slots, int Hours, int? StartsInHours, decimal? MaxPrice, int ValidForSeconds) : Step
    {
        public override string ToString() =>
            $"PlaceOrder(tenant {Tenant}, {Slots}×{Hours}h{(StartsInHours is { } s ? $" at +{s}h" : "")}" +
            $"{(MaxPrice is { } m ? $", max {m}" : "")}, valid {ValidForSeconds} s)";
    }

    public sealed record CancelOrder(int Order) : Step
    {
        public override string ToString() => $"CancelOrder({Back(Order, "order")})";
    }

    /// <summary>The host stops, stays down a while (deadlines may pass meanwhile) and starts again on the same store.</summary>
    public sealed record Restart(int DowntimeMilliseconds) : Step
    {
        public override string ToString() => $"Restart(down {DowntimeMilliseconds} ms)";
    }

    /// <summary>
    /// A standing order placed while every write of the book that would record its fill fails, then the host stops: a
    /// fill the pool booked and stored is lost from the book with the host, as when it dies between the two writes.
    /// </summary>
    public sealed record PlaceOrderThenRestart(int Tenant, int Hours, int? StartsInHours, int DowntimeMilliseconds) : Step
    {
        public override string ToString() =>
            $"PlaceOrderThenRestart(tenant {Tenant}, 1×{Hours}h{(StartsInHours is { } s ? $" at +{s}h" : "")}, the fill not stored; down {DowntimeMilliseconds} ms)";
    }

    public sealed record Scenario(PoolShape[] Pools, Step[] Steps)
    {
        public override string ToString() =>
            $"pools: {string.Join("; ", Pools.Select((p, i) => $"{i}: {p}"))}\n" +
            string.Join("\n", Steps.Select((s, i) => $"  {i,2}. {s}"));
    }

    private static readonly Gen<decimal?> MaxPrices = Gen.OneOf(1.00m, 1.50m, 2.50m, 4.00m).Nullable(0.5);

    private static readonly Gen<PoolShape> PoolShapes = Gen.Select(Gen.Int[1, 3], Gen.OneOf(1.00m, 1.60m, 2.40m),
        Gen.OneOf(1.25m, 2m).Nullable(0.4), (slots, floor, ceiling) => new PoolShape(slots, floor, ceiling));

    private static readonly Gen<int> Backs = Gen.Frequency((3, Gen.Int[0, 2]), (1, Gen.Int[3, 9]));

    /// <summary>Mostly one slot, so that most requests fit; sometimes more than a small pool has.</summary>
    private static readonly Gen<int> SlotCounts = Gen.Frequency((4, Gen.Const(1)), (2, Gen.Const(2)), (1, Gen.Const(3)));

    private static readonly Gen<Step> Steps = Gen.Frequency(
        (5, Gen.Select(Gen.Int[0, Tenants - 1], SlotCounts, Gen.Int[1, 3], MaxPrices, Gen.Int[0, 2],
            (tenant, slots, hours, max, quote) => (Step)new Reserve(tenant, slots, hours, max, Quoted: quote == 0))),
        (3, Gen.Select(Gen.Int[0, Tenants - 1], Gen.Int[1, 2], Gen.Int[1, 3], Gen.Int[1, 6],
            (tenant, slots, hours, starts) => (Step)new ReserveBlock(tenant, slots, hours, starts))),
        (5, Backs.Select(lease => (Step)new Fund(lease))),
        (1, Gen.Select(Backs, Gen.Enum<Mismatch>(), (lease, mismatch) => (Step)new FundWrongly(lease, mismatch))),
        (3, Backs.Select(lease => (Step)new End(lease))),
        (2, Gen.Int[100, 2000].Select(ms => (Step)new Wait(ms))),
        (2, Gen.Select(Backs, Gen.Int[0, 1000], (lease, notice) => (Step)new Drain(lease, notice))),
        (2, Gen.Select(Gen.Int[0, Tenants - 1], SlotCounts, Gen.Int[1, 2], Gen.Int[1, 4].Nullable(0.6), MaxPrices, Gen.Int[2, 6],
            (tenant, slots, hours, starts, max, valid) => (Step)new PlaceOrder(tenant, slots, hours, starts, max, valid))),
        (1, Backs.Select(order => (Step)new CancelOrder(order))),
        (1, Gen.Int[0, 1000].Select(ms => (Step)new Restart(ms))),
        (1, Gen.Select(Gen.Int[0, Tenants - 1], Gen.Int[1, 2], Gen.Int[1, 4].Nullable(0.5), Gen.Int[0, 1000],
            (tenant, hours, starts, ms) => (Step)new PlaceOrderThenRestart(tenant, hours, starts, ms))));

    private static readonly Gen<Scenario> Scenarios = Gen.Select(PoolShapes.Array[2, 3], Steps.Array[10, 22],
            (pools, steps) => new Scenario(pools, steps))
        .Where(s => s.Steps.Count(IsRestart) <= MaxRestarts);

    private static bool IsRestart(Step step) => step is Restart or PlaceOrderThenRestart;

    [Fact]
    public async Task Any_interleaving_of_reserving_funding_ending_expiry_drains_orders_and_restarts_keeps_the_market_sound()
    {
        // A scenario takes about 3 s, mostly waiting out deadlines and restarts: 18 keep this test near a minute on two cores.
        await Scenarios.SampleAsync(scenario => new Run(cluster, scenario, output).ExecuteAsync(), iter: PropertyRuns.Or(18), threads: 1, print: s => "\n" + s);
    }

    /// <summary>One scenario against the cluster: its own region, pools and tenants, so runs never see each other.</summary>
    private sealed class Run(DurableClusterFixture cluster, Scenario scenario, ITestOutputHelper output)
    {
        private readonly List<string> _log = [];
        private readonly DateTimeOffset _anchor = WholeMinute(DateTimeOffset.UtcNow.AddMinutes(10));
        private MarketModel _model = null!;
        private Observation _last = null!;

        private IGrainFactory Grains => cluster.Grains;

        private IOrderBookGrain Book => Grains.GetGrain<IOrderBookGrain>(Kind);

        public async Task ExecuteAsync()
        {
            var region = TestMarket.NewRegion();
            var pools = scenario.Pools.Select((shape, i) => new PoolDefinition("p-" + Guid.NewGuid().ToString("N")[..12], $"pool-{i}", Kind, region,
                shape.Slots, Credits.FromCredits(shape.Floor), TestMarket.NewAddress(),
                shape.CeilingMultiple is { } m ? Credits.FromCredits(shape.Floor * m) : null)).ToList();
            foreach (var pool in pools) await Grains.GetGrain<IPoolGrain>(pool.PoolKey).DefineAsync(pool);
            _model = new MarketModel(region, pools, Enumerable.Range(0, Tenants).Select(_ => Tenant.New()).ToList());
            _log.Add($"pools {string.Join(", ", pools.Select((p, i) => $"{i}={p.PoolKey}"))} in {region}");
            await CheckAsync(settled: false);

            foreach (var (step, index) in scenario.Steps.Select((s, i) => (s, i)))
            {
                _log.Add($"{index,2}. {step}");
                await ApplyAsync(step);
                await CheckAsync(settled: false);
            }
            await SettleAsync();
            output.WriteLine(Summary());
        }

        /// <summary>What the run reached, so that a green run shows what it covered.</summary>
        private string Summary()
        {
            static string Count<T>(IEnumerable<T> items) =>
                string.Join(", ", items.GroupBy(i => i).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key}"));
            return $"{scenario.Steps.Length} steps, {scenario.Steps.Count(IsRestart)} restart(s), {_model.Drained.Count} slot(s) drained; " +
                $"leases: {Count(_model.Leases.Select(l => $"{l.Last.Status}/{l.Last.History[^1].Reason}"))}; " +
                $"orders: {Count(_model.Orders.Select(o => o.Last.Status))}";
        }

        private Task ApplyAsync(Step step) => step switch
        {
            Reserve reserve => ReserveAsync(reserve),
            ReserveBlock block => ReserveBlockAsync(block),
            Fund fund => FundAsync(fund),
            FundWrongly wrongly => FundWronglyAsync(wrongly),
            End end => EndAsync(end),
            Wait wait => Task.Delay(wait.Milliseconds),
            Drain drain => DrainAsync(drain),
            PlaceOrder place => PlaceOrderAsync(place),
            CancelOrder cancel => CancelOrderAsync(cancel),
            Restart restart => cluster.RestartAsync(TimeSpan.FromMilliseconds(restart.DowntimeMilliseconds)),
            PlaceOrderThenRestart crash => PlaceOrderThenRestartAsync(crash),
            _ => throw new ArgumentOutOfRangeException(nameof(step), step, null),
        };

        private async Task ReserveAsync(Reserve step)
        {
            var tenant = _model.Tenants[step.Tenant];
            var request = new LeaseRequest(Kind, step.Slots, step.Hours, _model.Region,
                step.MaxPrice is { } max ? Credits.FromCredits(max) : null);
            var window = new LeaseWindow(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow + DurableClusterFixture.FundingWindow + TimeSpan.FromHours(step.Hours) + TimeSpan.FromSeconds(2));
            Quote? quote = null;
            try
            {
                if (step.Quoted)
                {
                    quote = await Grains.GetGrain<IMarketGrain>(Kind).QuoteAsync(request);
                    var pool = _model.Pools.Single(p => p.PoolKey == quote.PoolKey);
                    Expect(quote.PricePerSlotHour >= pool.FloorPricePerSlotHour && quote.PricePerSlotHour <= pool.Ceiling,
                        $"the quote of {pool.PoolKey} is {quote.PricePerSlotHour}, outside [{pool.FloorPricePerSlotHour}, {pool.Ceiling}]");
                    request = request with { QuoteId = quote.Id };
                }
                var lease = await Grains.RequestLeaseAsync(tenant.Address, request);
                var known = _model.AddLease(lease, tenant);
                Expect(lease.Status == LeaseStatus.Reserved && lease.StartsAt is null && lease.SlotKeys.Count == step.Slots,
                    $"{known} came back {lease.Status} on {string.Join(", ", lease.SlotKeys)}");
                if (quote is not null)
                    Expect(lease.PoolKey == quote.PoolKey && lease.PricePerSlotHour == quote.PricePerSlotHour,
                        $"{known} pays {lease.PricePerSlotHour} in {lease.PoolKey}; the quote promised {quote.PricePerSlotHour} in {quote.PoolKey}");
                _log.Add($"    → {known} in {lease.PoolKey} at {lease.PricePerSlotHour}, fund by {lease.FundBy:HH:mm:ss.fff}");
            }
            catch (MarketException refused)
            {
                ExpectRefusal(refused, step.Slots, step.MaxPrice is null && quote is null ? window : null);
            }
        }

        private async Task ReserveBlockAsync(ReserveBlock step)
        {
            var tenant = _model.Tenants[step.Tenant];
            var start = _anchor + TimeSpan.FromHours(step.StartsInHours);
            var window = LeaseWindow.From(start, TimeSpan.FromHours(step.Hours));
            try
            {
                var lease = await Grains.RequestLeaseAsync(tenant.Address, new LeaseRequest(Kind, step.Slots, step.Hours, _model.Region, Start: start));
                var known = _model.AddLease(lease, tenant);
                Expect(lease.Status == LeaseStatus.Reserved && lease.StartsAt == start && lease.BookedWindow == window && lease.SlotKeys.Count == step.Slots,
                    $"{known} came back {lease.Status} from {lease.StartsAt} booked {lease.BookedWindow}");
                _log.Add($"    → {known} in {lease.PoolKey} at {lease.PricePerSlotHour}, fund by {lease.FundBy:HH:mm:ss.fff}");
            }
            catch (MarketException refused)
            {
                ExpectRefusal(refused, step.Slots, window);
            }
        }

        /// <summary>
        /// A refusal must name a real reason. With <paramref name="window"/>, "no capacity" is checked against the pools as
        /// last seen, when nothing could have taken room since: expiry only frees slots.
        /// </summary>
        private void ExpectRefusal(MarketException refused, int slots, LeaseWindow? window)
        {
            _log.Add($"    → refused: {refused.Reason}");
            if (refused.Reason == "MoreSlotsThanExist")
            {
                Expect(_model.Pools.All(p => p.SlotCount < slots), $"refused as {refused.Reason}, yet a pool has {slots} slots");
                return;
            }
            Expect(refused.Error == MarketError.Conflict && refused.Reason is "NoCapacityInWindow" or "AboveMaxPrice" or "QuoteExpired",
                $"refused with {refused.Error} {refused.Reason}: {refused.Message}");
            if (refused.Reason != "NoCapacityInWindow" || window is not { } wanted || !NothingTakesRoomMeanwhile()) return;
            var roomy = _last.Pools.FirstOrDefault(view => view.Definition.SlotCount >= slots &&
                Enumerable.Range(0, view.Definition.SlotCount).Count(i => !view.Pool.Draining.Contains(i) &&
                    !(view.Pool.Bookings.GetValueOrDefault(i) ?? []).Any(b => b.Window.Overlaps(wanted))) >= slots);
            Expect(roomy is null, $"refused as {refused.Reason}, yet {roomy?.Definition.PoolKey} had {slots} slot(s) free for the window");
        }

        /// <summary>No open order can fill and no drained slot's lease can move while a step runs.</summary>
        private bool NothingTakesRoomMeanwhile() =>
            _model.Orders.All(o => o.Last.Status != OrderStatus.Open) &&
            _model.Drained.Values.All(vacateBy => vacateBy + MarketModel.Lateness < DateTimeOffset.UtcNow);

        private async Task FundAsync(Fund step)
        {
            if (_model.LeaseAt(step.Lease) is not { } known) return;
            var inTime = InTimeToFund(known);
            var funded = await Grains.GetGrain<ILeaseGrain>(known.Id).ConfirmFundingAsync(TestMarket.MatchingEscrow(known.First, known.Owner));
            Expect(funded is not null, $"{known} is lost: funding found no lease");
            _log.Add($"    → {known} {funded!.Status} ({funded.History[^1].Reason})");
            if (inTime && LapsedAtItsDeadline(funded))
            {
                _log.Add("      (sent in time, it arrived after the deadline: the machine was slow)");
                inTime = false;
            }
            if (inTime)
            {
                var expected = known.First.StartsAt is null ? LeaseStatus.Active : LeaseStatus.Funded;
                Expect(funded.Status == expected, $"{known} was funded in time, yet is {funded.Status} ({funded.History[^1].Reason}: {funded.History[^1].Detail})");
            }
            else if (funded.Status == LeaseStatus.Failed)
            {
                Expect(funded.History[^1].Reason is LeaseReasons.FundedAfterExpiry or LeaseReasons.SlotsLost or LeaseReasons.EscrowMismatch,
                    $"a matching escrow failed {known}: {funded.History[^1].Reason}");
            }
        }

        private async Task FundWronglyAsync(FundWrongly step)
        {
            if (_model.LeaseAt(step.Lease) is not { } known) return;
            var inTime = InTimeToFund(known);
            var escrow = TestMarket.MatchingEscrow(known.First, known.Owner);
            escrow = step.Mismatch switch
            {
                Mismatch.ShortDeposit => escrow with { Deposit = escrow.Deposit - Credits.FromUnits(1) },
                Mismatch.OtherTenant => escrow with { Tenant = _model.Tenants.First(t => t != known.Owner).Address },
                Mismatch.OtherProvider => escrow with { Provider = TestMarket.NewAddress() },
                _ => escrow with { Expiry = escrow.Expiry - TimeSpan.FromSeconds(1) },
            };
            var failed = await Grains.GetGrain<ILeaseGrain>(known.Id).ConfirmFundingAsync(escrow);
            Expect(failed is not null, $"{known} is lost: funding found no lease");
            _log.Add($"    → {known} {failed!.Status} ({failed.History[^1].Reason})");
            if (inTime && LapsedAtItsDeadline(failed))
            {
                _log.Add("      (sent in time, it arrived after the deadline: the machine was slow)");
                inTime = false;
            }
            if (inTime)
                Expect(failed.Status == LeaseStatus.Failed && failed.History[^1].Reason == LeaseReasons.EscrowMismatch,
                    $"{known} took a mismatched escrow ({step.Mismatch}) and is {failed.Status} ({failed.History[^1].Reason})");
            else if (known.Last.FundingTransaction is null)
                Expect(failed.Status == LeaseStatus.Failed, $"{known} took a mismatched escrow ({step.Mismatch}) and is {failed.Status}");
        }

        /// <summary>Still reserved, never funded, no slot being taken back, and the deadline well ahead.</summary>
        private static bool InTimeToFund(KnownLease known) =>
            known.Last is { Status: LeaseStatus.Reserved, FundingTransaction: null, Reclaims.Count: 0, FundBy: { } fundBy } &&
            DateTimeOffset.UtcNow + InTime < fundBy;

        /// <summary>
        /// Whether the market let the reservation lapse at its deadline by its own clock, not before: a tenant that set off in
        /// time (<see cref="InTime"/>) may still arrive late when the machine stalls, and then expiry is the right answer.
        /// </summary>
        private static bool LapsedAtItsDeadline(LeaseSnapshot lease) =>
            lease.History.Any(t => t.Status == LeaseStatus.Expired && t.Reason == LeaseReasons.ReservationNotFunded && t.At >= lease.FundBy);

        private async Task EndAsync(End step)
        {
            if (_model.LeaseAt(step.Lease) is not { } known) return;
            var last = known.Last;
            var inTime = InTimeToFund(known);
            try
            {
                // The host's way (LeaseDirectory): the pool cancels a reservation it still keeps, the lease grain ends anything else.
                var ended = await Grains.GetGrain<IPoolGrain>(last.PoolKey!).CancelAsync(known.Id, known.Owner.Address)
                            ?? await Grains.GetGrain<ILeaseGrain>(known.Id).EndAsync(known.Owner.Address);
                _log.Add($"    → {known} {ended.Status} ({ended.History[^1].Reason})");
                Expect(ended.Status is LeaseStatus.Cancelled or LeaseStatus.Ended, $"ending {known} left it {ended.Status}");
                if (inTime) Expect(ended.Status == LeaseStatus.Cancelled, $"cancelling {known} in time left it {ended.Status}");
                if (last.Status is LeaseStatus.Funded or LeaseStatus.Active && last.Reclaims.Count == 0)
                    Expect(ended.Status == LeaseStatus.Ended, $"ending {last.Status} {known} left it {ended.Status}");
            }
            catch (MarketException refused)
            {
                var lease = await Grains.GetGrain<ILeaseGrain>(known.Id).GetAsync();
                _log.Add($"    → refused: {refused.Reason}, the lease is {lease?.Status}");
                Expect(refused.Reason == "LeaseNotActive" && lease?.Status is LeaseStatus.Expired or LeaseStatus.Failed,
                    $"ending {known} was refused ({refused.Reason}) while it is {lease?.Status}");
            }
        }

        private async Task DrainAsync(Drain step)
        {
            if (_model.LeaseAt(step.Lease) is not { } known) return;
            var slotKey = known.Last.SlotKeys[0];
            var (poolKey, index) = MarketKeys.ParseSlot(slotKey);
            var notice = TimeSpan.FromMilliseconds(step.NoticeMilliseconds);
            var affected = await Grains.GetGrain<IPoolGrain>(poolKey).DrainSlotAsync(index, notice);
            var vacateBy = DateTimeOffset.UtcNow + notice;
            _model.Drained.TryAdd(slotKey, vacateBy);
            _log.Add($"    → {slotKey} of {known} to be vacated by {vacateBy:HH:mm:ss.fff}; notice to [{string.Join(", ", affected.Select(_model.Name))}]");
        }

        private async Task PlaceOrderAsync(PlaceOrder step)
        {
            var tenant = _model.Tenants[step.Tenant];
            var request = new LeaseRequest(Kind, step.Slots, step.Hours, _model.Region,
                step.MaxPrice is { } max ? Credits.FromCredits(max) : null,
                Start: step.StartsInHours is { } hours ? _anchor + TimeSpan.FromHours(hours) : null);
            try
            {
                var order = await Book.PlaceAsync(tenant.Address, request, TimeSpan.FromSeconds(step.ValidForSeconds));
                var known = _model.AddOrder(order, tenant);
                _log.Add($"    → {known} {order.Status} ({order.Reason}), expires {order.ExpiresAt:HH:mm:ss.fff}");
                Expect(order.Status is OrderStatus.Open or OrderStatus.Filled && order.Tenant == AccountKeys.Normalize(tenant.Address),
                    $"{known} was placed {order.Status} for {order.Tenant}");
            }
            catch (MarketException refused)
            {
                // Refused means nothing rests: the next check finds any order of this run that the model does not know.
                _log.Add($"    → refused: {refused.Error} {refused.Reason}");
            }
        }

        private async Task PlaceOrderThenRestartAsync(PlaceOrderThenRestart step)
        {
            var since = DateTimeOffset.UtcNow;
            var region = _model.Region;
            // Only this step's order (the run's region, placed from now on): the book's other writes go through.
            bool RecordsItsFill(object? state) => state is Orders.OrderBookState book &&
                book.Orders.Values.Any(o => o.Request.Region == region && o.PlacedAt >= since && o.Status == OrderStatus.Filled);
            using (Faults.FailWrites("orderbook/" + Kind, RecordsItsFill, times: int.MaxValue))
            {
                await PlaceOrderAsync(new PlaceOrder(step.Tenant, 1, step.Hours, step.StartsInHours, MaxPrice: null, ValidForSeconds: 6));
                await cluster.RestartAsync(TimeSpan.FromMilliseconds(step.DowntimeMilliseconds));
            }
        }

        private async Task CancelOrderAsync(CancelOrder step)
        {
            if (_model.OrderAt(step.Order) is not { } known) return;
            try
            {
                var cancelled = await Book.CancelAsync(known.Owner.Address, known.Id);
                known.CancelledByTenant = true;
                _log.Add($"    → {known} {cancelled.Status}");
                Expect(cancelled.Status == OrderStatus.Cancelled, $"cancelling {known} left it {cancelled.Status}");
            }
            catch (MarketException refused)
            {
                var order = await Book.GetAsync(known.Id);
                _log.Add($"    → refused: {refused.Reason}, the order is {order?.Status}");
                Expect(refused.Reason == "OrderNotOpen" && order?.Status is OrderStatus.Filled or OrderStatus.Expired or OrderStatus.Cancelled,
                    $"cancelling {known} was refused ({refused.Reason}) while it is {order?.Status}");
            }
        }

        /// <summary>Cancels what still rests, waits out every funding window and notice, then nothing may be left pending.</summary>
        private async Task SettleAsync()
        {
            _log.Add("settle: cancel open orders, wait out every deadline");
            foreach (var known in _model.Orders.Where(o => o.Last.Status == OrderStatus.Open))
            {
                try
                {
                    await Book.CancelAsync(known.Owner.Address, known.Id);
                    known.CancelledByTenant = true;
                }
                catch (MarketException refused) when (refused.Reason == "OrderNotOpen")
                {
                    // Filled or expired since the last check.
                }
            }
            await CheckAsync(settled: false);

            var deadlines = _model.Leases.Select(l => l.Last)
                .Where(l => l.Status == LeaseStatus.Reserved).Select(l => l.FundBy!.Value)
                .Concat(_model.Drained.Values);
            var last = deadlines.DefaultIfEmpty(DateTimeOffset.UtcNow).Max();
            if (last > DateTimeOffset.UtcNow) await Task.Delay(last - DateTimeOffset.UtcNow);
            await CheckAsync(settled: true);
        }

        /// <summary>Observes until every invariant holds, or fails with what still breaks them once <see cref="Settling"/> has passed.</summary>
        private async Task CheckAsync(bool settled)
        {
            var giveUpAt = DateTime.UtcNow + Settling;
            while (true)
            {
                var seen = await _model.ObserveAsync(Grains);
                var violations = _model.Violations(seen, settled);
                if (violations.Count == 0)
                {
                    _model.Accept(seen);
                    _last = seen;
                    return;
                }
                if (DateTime.UtcNow > giveUpAt) Fail("invariants broken:\n  " + string.Join("\n  ", violations));
                await Task.Delay(100);
            }
        }

        private void Expect(bool condition, string message)
        {
            if (!condition) Fail(message);
        }

        private void Fail(string message) => Assert.Fail($"{message}\nafter:\n{string.Join("\n", _log)}");

        private static DateTimeOffset WholeMinute(DateTimeOffset at) => new(at.Ticks - at.Ticks % TimeSpan.TicksPerMinute, TimeSpan.Zero);
    }
}
