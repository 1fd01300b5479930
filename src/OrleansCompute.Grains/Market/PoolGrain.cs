using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

[GenerateSerializer, Alias("occ.pool-state")]
public sealed class PoolState
{
    [Id(0)] public PoolDefinition? Definition { get; set; }

    /// <summary>The live price per slot-hour (see <see cref="PoolPricing"/>) as of <see cref="PricedAt"/>.</summary>
    [Id(2)] public Credits Price { get; set; }

    /// <summary>The end of the last price step taken.</summary>
    [Id(3)] public DateTimeOffset PricedAt { get; set; }

    /// <summary>Quotes given and not yet used or expired.</summary>
    [Id(4)] public Dictionary<Guid, PoolQuote> Quotes { get; set; } = [];

    /// <summary>Slots the provider is taking out of service: never booked again.</summary>
    [Id(5)] public HashSet<int> Draining { get; set; } = [];
}

[GenerateSerializer, Immutable, Alias("occ.pool-quote")]
public sealed record PoolQuote([property: Id(0)] int Slots, [property: Id(1)] Credits PricePerSlotHour, [property: Id(2)] DateTimeOffset ExpiresAt);

/// <summary>
/// A pool of identical slots: their live price, quotes, and the way in for every booking of them.
/// The slots own their calendars; the pool keeps an in-memory mirror of them (rebuilt from the slots when it
/// activates) to find free slots without asking each one. It is reentrant: a request marks its slots in the mirror
/// before it awaits them, so concurrent requests never pick the same slot and the pool never waits on one request
/// to serve the next; each slot still has the last word. Only what is the pool's own (definition, price, quotes,
/// drains) is persisted, so a booking costs the slot's write alone.
/// </summary>
[Reentrant]
public sealed class PoolGrain(
    [PersistentState("pool", GrainStorage.Market)] IPersistentState<PoolState> state,
    IOptions<MarketOptions> options,
    TimeProvider clock) : Grain, IPoolGrain, IRemindable
{
    private const string SweepReminder = "pool-sweep";
    private readonly TimeSpan _priceStep = options.Value.PriceStepInterval;
    private readonly TimeSpan _quoteValidity = options.Value.QuoteValidity;
    private readonly TimeSpan _reportInterval = options.Value.PoolReportInterval;
    private IGrainTimer? _reportTimer;
    private PoolStatus? _lastReport;
    private readonly Dictionary<int, List<SlotBooking>> _bookings = [];
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    // Grain references are resolved once: GetGrain looks up the interface's grain type by reflection on every call.
    private ISlotGrain[] _slots = [];
    private IMarketGrain? _market;
    private bool _sweepArmed;

    /// <summary>Far above any real accelerator, and low enough that a lease's deposit always fits in <see cref="Credits"/>.</summary>
    public static readonly Credits MaxPricePerSlotHour = Credits.FromCredits(2_500m);

    private PoolDefinition Definition =>
        state.State.Definition ?? throw new MarketException(MarketError.NotFound, "UnknownPool", $"No pool '{this.GetPrimaryKeyString()}'.");

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Definition is { } definition)
        {
            var slots = await Task.WhenAll(Enumerable.Range(0, definition.SlotCount).Select(i => Slot(i).GetAsync().AsTask()));
            for (var index = 0; index < slots.Length; index++)
            {
                if (slots[index].Calendar.Count > 0) _bookings[index] = slots[index].Calendar.ToList();
            }
            await ArmSweepAsync();
            // After a restart, holds whose funding deadline passed while the host was down are released now, not at the next sweep.
            SweepOverdueHolds();
        }
        await base.OnActivateAsync(cancellationToken);
    }

    public async Task DefineAsync(PoolDefinition definition)
    {
        Validate(definition);
        var highestHeld = _bookings.Where(b => b.Value.Count > 0).Select(b => b.Key).DefaultIfEmpty(-1).Max();
        if (definition.SlotCount <= highestHeld)
            throw new MarketException(MarketError.Conflict, "SlotsInUse",
                $"Slot {highestHeld} is held; the pool cannot shrink to {definition.SlotCount} slots.", "slotCount");

        if (state.State.Definition is { } known && known.Kind != definition.Kind)
            throw MarketException.Invalid("kind", "KindIsFixed", $"Pool '{definition.PoolKey}' holds {known.Kind}; a pool never changes kind.");

        // A new floor or ceiling is the provider re-pricing its pool: the live price starts again from the floor.
        if (state.State.Definition is not { } previous || previous.FloorPricePerSlotHour != definition.FloorPricePerSlotHour || previous.Ceiling != definition.Ceiling)
        {
            state.State.Price = definition.FloorPricePerSlotHour;
            state.State.PricedAt = clock.GetUtcNow();
        }
        state.State.Definition = definition;
        await SaveAsync();
        await Market(definition).RegisterPoolAsync(definition, Status(definition));
        await GrainFactory.GetGrain<IAccountGrain>(AccountKeys.Normalize(definition.PayoutAddress)).AddPoolAsync(definition.PoolKey);
    }

    public async Task<PoolReservation?> ReserveAsync(Guid leaseId, int slots, LeaseWindow window, DateTimeOffset holdUntil,
        Credits? maxPricePerSlotHour, Guid? quoteId, int? minSlots)
    {
        var definition = Definition;
        var quote = quoteId is { } id ? UsableQuote(id, slots) : null;
        DropEndedBookings();
        AdvancePrice(definition);
        var price = quote?.PricePerSlotHour ?? state.State.Price;
        if (maxPricePerSlotHour is { } max && price > max) return null;
        var chosen = FreeSlots(window).Take(slots).ToList();
        if (chosen.Count < (minSlots ?? slots)) return null;

        // Marked before the first await, so that a concurrent request sees these slots as taken.
        var booking = new SlotBooking(leaseId, window, holdUntil);
        foreach (var index in chosen) BookingsOf(index).Add(booking);
        if (quoteId is { } used) state.State.Quotes.Remove(used);

        var accepted = await Task.WhenAll(chosen.Select(index => Slot(index).TryReserveAsync(leaseId, window, holdUntil)));
        if (!accepted.All(ok => ok))
        {
            await Task.WhenAll(chosen.Where((_, i) => accepted[i]).Select(index => Slot(index).ReleaseAsync(leaseId)));
            foreach (var index in chosen) BookingsOf(index).Remove(booking);
            if (quoteId is { } unused) state.State.Quotes[unused] = quote!;
            // A slot said no that the mirror thought free: learn its calendar from the slot itself.
            foreach (var index in chosen.Where((_, i) => !accepted[i]))
                _bookings[index] = (await Slot(index).GetAsync()).Calendar.ToList();
            return null;
        }

        if (quoteId is not null) await SaveAsync();
        Report(definition);
        await ArmSweepAsync();
        return new PoolReservation(definition.PoolKey, definition.ProviderId, definition.PayoutAddress,
            definition.Kind, definition.Region, price,
            chosen.Select(i => MarketKeys.Slot(definition.PoolKey, i)).ToList());
    }

    public async Task<Quote?> QuoteAsync(int slots, LeaseWindow window, Credits? maxPricePerSlotHour)
    {
        var definition = Definition;
        if (FreeSlots(window).Take(slots).Count() < slots) return null;
        AdvancePrice(definition);
        if (maxPricePerSlotHour is { } max && state.State.Price > max) return null;

        var now = clock.GetUtcNow();
        foreach (var expired in state.State.Quotes.Where(q => q.Value.ExpiresAt <= now).Select(q => q.Key).ToList())
            state.State.Quotes.Remove(expired);
        var id = Guid.NewGuid();
        var quote = new PoolQuote(slots, state.State.Price, now + _quoteValidity);
        state.State.Quotes[id] = quote;
        await SaveAsync();
        return new Quote(ScopedIds.Format(id, definition.PoolKey), definition.PoolKey, definition.Kind, definition.Region,
            slots, quote.PricePerSlotHour, quote.ExpiresAt);
    }

    public Task<DateTimeOffset?> EarliestStartAsync(int slots, TimeSpan duration, DateTimeOffset notBefore)
    {
        if (state.State.Definition is not { } definition || definition.SlotCount < slots) return Task.FromResult<DateTimeOffset?>(null);
        // A window that fits starts either at notBefore or right when some booking ends.
        var starts = _bookings.Values.SelectMany(b => b).Select(b => b.Window.End).Where(end => end > notBefore)
            .Append(notBefore).Distinct().Order();
        foreach (var start in starts)
        {
            if (FreeSlots(LeaseWindow.From(start, duration)).Take(slots).Count() == slots) return Task.FromResult<DateTimeOffset?>(start);
        }
        return Task.FromResult<DateTimeOffset?>(null);
    }

    public async Task<IReadOnlyList<Guid>> DrainSlotAsync(int index, TimeSpan notice)
    {
        var definition = Definition;
        if (index < 0 || index >= definition.SlotCount)
            throw MarketException.Invalid("index", "UnknownSlot", $"Pool {definition.PoolKey} has slots 0 to {definition.SlotCount - 1}.");
        if (notice < TimeSpan.Zero || notice > TimeSpan.FromDays(7))
            throw MarketException.Invalid("notice", "OutOfRange", "The notice is 0 to 7 days.");

        state.State.Draining.Add(index);
        DropEndedBookings();
        await SaveAsync();
        Report(definition);
        var leases = BookingsOf(index).Select(b => b.LeaseId).Distinct().ToList();
        var reclaimAt = clock.GetUtcNow() + notice;
        var slotKey = MarketKeys.Slot(definition.PoolKey, index);
        await Task.WhenAll(leases.Select(lease => GrainFactory.GetGrain<ILeaseGrain>(lease).NoticeReclaimAsync(slotKey, reclaimAt)));
        return leases;
    }

    public async Task<string?> MoveAsync(Guid leaseId, int fromIndex)
    {
        var definition = Definition;
        if (BookingsOf(fromIndex).FirstOrDefault(b => b.LeaseId == leaseId) is not { } booking) return null;

        foreach (var index in FreeSlots(booking.Window).ToList())
        {
            BookingsOf(index).Add(booking);
            var slot = Slot(index);
            var moved = await slot.TryReserveAsync(leaseId, booking.Window, booking.HoldUntil ?? booking.Window.End)
                        && (booking.HoldUntil is not null || await slot.ActivateAsync(leaseId, booking.Window));
            if (!moved)
            {
                await slot.ReleaseAsync(leaseId);
                BookingsOf(index).Remove(booking);
                continue;
            }
            await Slot(fromIndex).ReleaseAsync(leaseId);
            BookingsOf(fromIndex).Remove(booking);
            return MarketKeys.Slot(definition.PoolKey, index);
        }
        return null;
    }

    public async Task<bool> ActivateAsync(Guid leaseId, LeaseWindow leased)
    {
        var held = HeldBy(leaseId);
        if (held.Count == 0) return false;
        var activated = await Task.WhenAll(held.Select(index => Slot(index).ActivateAsync(leaseId, leased)));
        if (!activated.All(ok => ok)) return false;

        foreach (var index in held)
        {
            var bookings = BookingsOf(index);
            var at = bookings.FindIndex(b => b.LeaseId == leaseId);
            if (at >= 0) bookings[at] = new SlotBooking(leaseId, leased, HoldUntil: null);
        }
        return true;
    }

    public async Task ReleaseAsync(Guid leaseId)
    {
        var held = HeldBy(leaseId);
        if (held.Count == 0) return;
        // The mirror keeps the bookings until the slots have let go, so no request picks a slot that would still refuse.
        await Task.WhenAll(held.Select(index => Slot(index).ReleaseAsync(leaseId)));
        var definition = Definition;
        AdvancePrice(definition);
        foreach (var index in held) BookingsOf(index).RemoveAll(b => b.LeaseId == leaseId);
        Report(definition);
    }

    /// <summary>The durable backstop for funding deadlines: holds that outlived them are handed back to their leases to expire.</summary>
    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        SweepOverdueHolds();
        return Task.CompletedTask;
    }

    private void SweepOverdueHolds()
    {
        var now = clock.GetUtcNow();
        var overdue = _bookings.Values.SelectMany(b => b).Where(b => b.HoldUntil < now).Select(b => b.LeaseId).Distinct();
        foreach (var lease in overdue) GrainFactory.GetGrain<ILeaseGrain>(lease).CheckDeadlineAsync().Ignore();
    }

    public ValueTask<PoolSnapshot> GetAsync()
    {
        var definition = state.State.Definition;
        var holders = HoldersNow();
        var available = definition is null ? 0 : Available(definition, holders);
        var price = definition is null ? Credits.Zero : PriceNow(definition).Price;
        var bookings = _bookings.Where(b => b.Value.Count > 0)
            .ToDictionary(b => b.Key, b => (IReadOnlyList<SlotBooking>)b.Value.OrderBy(x => x.Window.Start).ToList());
        return ValueTask.FromResult(new PoolSnapshot(this.GetPrimaryKeyString(), definition, available, holders, price, bookings,
            state.State.Draining.Order().ToList()));
    }

    private PoolQuote UsableQuote(Guid quoteId, int slots)
    {
        if (!state.State.Quotes.TryGetValue(quoteId, out var quote))
            throw MarketException.Invalid("quoteId", "UnknownQuote", "This pool gave no such quote, or it was used already.");
        if (quote.ExpiresAt <= clock.GetUtcNow())
            throw new MarketException(MarketError.Conflict, "QuoteExpired", $"The quote expired at {quote.ExpiresAt:O}; ask for a new one.", "quoteId");
        if (quote.Slots != slots)
            throw MarketException.Invalid("slots", "QuoteMismatch", $"The quote is for {quote.Slots} slot(s), the request for {slots}.");
        return quote;
    }

    /// <summary>Slot indexes with no booking overlapping <paramref name="window"/>, lowest first.</summary>
    private IEnumerable<int> FreeSlots(LeaseWindow window) =>
        Enumerable.Range(0, Definition.SlotCount)
            .Where(index => !state.State.Draining.Contains(index))
            .Where(index => !_bookings.TryGetValue(index, out var bookings) || !bookings.Any(b => b.Window.Overlaps(window)));

    /// <summary>Slot index → the lease whose booking covers this instant.</summary>
    private Dictionary<int, Guid> HoldersNow()
    {
        var now = clock.GetUtcNow();
        var holders = new Dictionary<int, Guid>();
        foreach (var (index, bookings) in _bookings)
        {
            if (bookings.FirstOrDefault(b => b.Window.Contains(now)) is { } current) holders[index] = current.LeaseId;
        }
        return holders;
    }

    private void DropEndedBookings()
    {
        var now = clock.GetUtcNow();
        foreach (var bookings in _bookings.Values) bookings.RemoveAll(b => b.Window.End <= now);
    }

    private List<SlotBooking> BookingsOf(int index) =>
        _bookings.TryGetValue(index, out var bookings) ? bookings : _bookings[index] = [];

    /// <summary>Takes the price steps due since the last one, at the utilization that held since then.</summary>
    private void AdvancePrice(PoolDefinition definition) => (state.State.Price, state.State.PricedAt) = PriceNow(definition);

    private (Credits Price, DateTimeOffset PricedAt) PriceNow(PoolDefinition definition)
    {
        var steps = (clock.GetUtcNow() - state.State.PricedAt).Ticks / _priceStep.Ticks;
        if (steps <= 0) return (state.State.Price, state.State.PricedAt);
        return (PoolPricing.Advance(state.State.Price, definition, HoldersNow().Count, steps),
            state.State.PricedAt + _priceStep * steps);
    }

    /// <summary>Writes the pool's own state; writes from interleaved requests take turns, each saving the latest state.</summary>
    private async Task SaveAsync()
    {
        await _writeGate.WaitAsync();
        try
        {
            await state.WriteStateAsync();
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>
    /// Tells the market the new price and room (one-way: it is only a hint there), at most once per report interval:
    /// the first change reports at once, changes soon after it are gathered into one report at the interval's end. A pool
    /// that has just filled up or changed its price reports at once: a market still sending requests to a full pool
    /// would cost a wasted ask per request.
    /// </summary>
    private void Report(PoolDefinition definition)
    {
        var status = Status(definition);
        var urgent = _lastReport is { } last && (status.PricePerSlotHour != last.PricePerSlotHour || (status.AvailableSlots == 0) != (last.AvailableSlots == 0));
        if (_reportTimer is not null && !urgent) return;
        _lastReport = status;
        Market(definition).ReportAsync(status).Ignore();
        if (_reportTimer is not null) return;
        _reportTimer = this.RegisterGrainTimer(_ =>
        {
            _reportTimer!.Dispose();
            _reportTimer = null;
            if (state.State.Definition is { } current) Market(current).ReportAsync(_lastReport = Status(current)).Ignore();
            return Task.CompletedTask;
        }, new GrainTimerCreationOptions { DueTime = _reportInterval, Period = Timeout.InfiniteTimeSpan, Interleave = true });
    }

    /// <summary>One reminder per pool, once it holds anything, replaces a reminder per lease for funding deadlines.</summary>
    private async Task ArmSweepAsync()
    {
        if (_sweepArmed || !_bookings.Values.Any(b => b.Any(x => x.HoldUntil is not null))) return;
        _sweepArmed = true;
        await this.RegisterOrUpdateReminder(SweepReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
    }

    private PoolStatus Status(PoolDefinition definition) =>
        new(definition.PoolKey, PriceNow(definition).Price, Available(definition, HoldersNow()));

    /// <summary>Slots free now: neither held nor being drained.</summary>
    private int Available(PoolDefinition definition, Dictionary<int, Guid> holders) =>
        definition.SlotCount - holders.Count - state.State.Draining.Count(d => !holders.ContainsKey(d));

    private List<int> HeldBy(Guid leaseId) =>
        _bookings.Where(b => b.Value.Any(x => x.LeaseId == leaseId)).Select(b => b.Key).ToList();

    private ISlotGrain Slot(int index)
    {
        if (index >= _slots.Length)
        {
            var poolKey = this.GetPrimaryKeyString();
            var grown = new ISlotGrain[Math.Max(index + 1, Definition.SlotCount)];
            _slots.CopyTo(grown, 0);
            for (var i = _slots.Length; i < grown.Length; i++) grown[i] = GrainFactory.GetGrain<ISlotGrain>(MarketKeys.Slot(poolKey, i));
            _slots = grown;
        }
        return _slots[index];
    }

    private IMarketGrain Market(PoolDefinition definition) =>
        _market ??= GrainFactory.GetGrain<IMarketGrain>(MarketKeys.Market(definition.Kind));

    private void Validate(PoolDefinition definition)
    {
        if (definition.PoolKey != this.GetPrimaryKeyString())
            throw MarketException.Invalid("poolName", "KeyMismatch", $"Pool '{definition.PoolKey}' cannot be defined in grain '{this.GetPrimaryKeyString()}'.");
        if (!MarketKeys.IsValidName(definition.ProviderId))
            throw MarketException.Invalid("providerId", "InvalidName", "Provider ids are 1-64 lowercase letters, digits or dashes.");
        if (!MarketKeys.IsValidName(definition.PoolName))
            throw MarketException.Invalid("poolName", "InvalidName", "Pool names are 1-64 lowercase letters, digits or dashes.");
        AcceleratorCatalog.Require(definition.Kind);
        if (!MarketKeys.IsValidName(definition.Region))
            throw MarketException.Invalid("region", "InvalidName", "Regions are 1-64 lowercase letters, digits or dashes.");
        if (definition.SlotCount is < 1 or > 4096)
            throw MarketException.Invalid("slotCount", "OutOfRange", "A pool has 1 to 4096 slots.");
        if (definition.FloorPricePerSlotHour <= Credits.Zero || definition.FloorPricePerSlotHour > MaxPricePerSlotHour)
            throw MarketException.Invalid("floorPricePerSlotHour", "OutOfRange", $"The floor price per slot-hour must be above zero and at most {MaxPricePerSlotHour}.");
        if (definition.CeilingPricePerSlotHour is { } ceiling && (ceiling < definition.FloorPricePerSlotHour || ceiling > MaxPricePerSlotHour))
            throw MarketException.Invalid("ceilingPricePerSlotHour", "OutOfRange", $"The ceiling price must be between the floor and {MaxPricePerSlotHour}.");
        if (!AccountKeys.IsAddress(definition.PayoutAddress))
            throw MarketException.Invalid("payoutAddress", "MalformedAddress", $"'{definition.PayoutAddress}' is not an Ethereum address.");
    }
}
