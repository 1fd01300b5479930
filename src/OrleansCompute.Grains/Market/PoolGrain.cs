using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Leases;

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

/// <summary>A quote as its pool keeps it: the request it priced (slots, hours, a start or none for "now") and the price.</summary>
[GenerateSerializer, Immutable, Alias("occ.pool-quote")]
public sealed record PoolQuote(
    [property: Id(0)] int Slots,
    [property: Id(1)] Credits PricePerSlotHour,
    [property: Id(2)] DateTimeOffset ExpiresAt,
    [property: Id(3)] int Hours,
    [property: Id(4)] DateTimeOffset? Start);

/// <summary>
/// A pool of identical slots: their calendars, their live price, quotes, and the leases it reserved until their lease
/// grains take them over. It is the one authority on who holds which slot when. Each lease it books is one record in the
/// <see cref="ILeaseBook"/>, written alone, so a reservation or a cancel costs one call here and one small write, and
/// needs no lease grain: a lease grain activates (and takes the lease over) only when something else happens to the lease.
/// Reentrant: a request marks its slots before it awaits its write, so concurrent requests never pick the same slot and
/// the pool never waits on one request to serve the next. Its own state (definition, price, quotes, drains) is small and rarely written.
/// </summary>
[Reentrant]
public sealed class PoolGrain(
    [PersistentState("pool", GrainStorage.Market)] IPersistentState<PoolState> state,
    ILeaseBook book,
    IOptions<MarketOptions> options,
    TimeProvider clock,
    ILogger<PoolGrain> logger) : Grain, IPoolGrain, IRemindable
{
    private const string SweepReminder = "pool-sweep";
    /// <summary>Reservations due to expire within this of each other are expired together, by one timer.</summary>
    private static readonly TimeSpan ExpiryGranularity = TimeSpan.FromMilliseconds(100);
    private readonly TimeSpan _priceStep = options.Value.PriceStepInterval;
    private readonly TimeSpan _quoteValidity = options.Value.QuoteValidity;
    private readonly TimeSpan _reportInterval = options.Value.PoolReportInterval;
    private readonly TimeSpan _settlementGrace = options.Value.SettlementGrace;
    private readonly TimeSpan _orderFillFence = options.Value.OrderFillFence;
    private IGrainTimer? _reportTimer;
    private PoolStatus? _lastReport;
    /// <summary>Every lease that books a slot here or is a reservation kept here, as in the book.</summary>
    private readonly Dictionary<Guid, BookedLease> _leases = [];
    /// <summary>The calendars: slot index → its bookings (derived from <see cref="_leases"/>).</summary>
    private readonly Dictionary<int, List<SlotBooking>> _bookings = [];
    /// <summary>Reservations given to their lease grains and not yet confirmed stored there: the pool no longer acts on them.</summary>
    private readonly HashSet<Guid> _handingOver = [];
    /// <summary>Reservations ended here whose ended record is being written to the book.</summary>
    private readonly Dictionary<Guid, LeaseSnapshot> _ending = [];
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private IGrainTimer? _expiryTimer;
    private DateTimeOffset? _expiryDue;
    private IMarketGrain? _market;
    private bool _sweepArmed;

    /// <summary>An order book's ask for a fill arrived after <see cref="MarketOptions.OrderFillFence"/>: nothing is booked.</summary>
    public const string FillTooLate = "FillTooLate";

    /// <summary>An order book's ask names a lease id that another tenant's lease has.</summary>
    public const string LeaseIdTaken = "LeaseIdTaken";

    /// <summary>The longest notice a drain may give a slot's leases.</summary>
    private static readonly TimeSpan MaxNotice = TimeSpan.FromDays(7);

    /// <summary>Far above any real accelerator, and low enough that a lease's deposit always fits in <see cref="Credits"/>.</summary>
    public static readonly Credits MaxPricePerSlotHour = Credits.FromCredits(2_500m);

    private PoolDefinition Definition =>
        state.State.Definition ?? throw new MarketException(MarketError.NotFound, "UnknownPool", $"No pool '{this.GetPrimaryKeyString()}'.");

    private string PoolKey => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Definition is not null)
        {
            foreach (var record in await book.ReadLiveAsync(PoolKey)) Keep(record);
            await ArmSweepAsync();
            // After a restart, holds whose funding deadline passed while the host was down are released now, not at the next sweep.
            await SweepOverdueHoldsAsync();
        }
        await base.OnActivateAsync(cancellationToken);
    }

    public async Task DefineAsync(PoolDefinition definition)
    {
        Validate(definition);
        if (state.State.Definition is { } known) definition = Redefinition(known, definition);
        var highestHeld = _bookings.Where(b => b.Value.Count > 0).Select(b => b.Key).DefaultIfEmpty(-1).Max();
        if (definition.SlotCount <= highestHeld)
            throw new MarketException(MarketError.Conflict, "SlotsInUse",
                $"Slot {highestHeld} is held; the pool cannot shrink to {definition.SlotCount} slots.", "slotCount");
        // A new pool is offered in its provider's name: only the address the provider's pools pay may add one.
        if (state.State.Definition is null)
            await GrainFactory.GetGrain<IProviderGrain>(definition.ProviderId).AddPoolAsync(definition.PoolKey, definition.PayoutAddress);

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

    /// <summary>
    /// What a provider may change of a pool: its size and prices. Its kind, region and payout address are what its leases
    /// were matched and paid by: a tenant who asked for a region keeps its slots there, and escrows opened for the pool pay
    /// the address its key signs the pool's changes with (a new address would take the pool from its owner). Capacity of
    /// another kind or in another region is a new pool.
    /// </summary>
    private static PoolDefinition Redefinition(PoolDefinition known, PoolDefinition definition)
    {
        if (known.Kind != definition.Kind)
            throw MarketException.Invalid("kind", "KindIsFixed", $"Pool '{definition.PoolKey}' holds {known.Kind}; a pool never changes kind.");
        if (known.Region != definition.Region)
            throw MarketException.Invalid("region", "RegionIsFixed",
                $"Pool '{definition.PoolKey}' is in {known.Region}; a pool never moves. Capacity in {definition.Region} is a pool of its own.");
        if (AccountKeys.Normalize(known.PayoutAddress) != AccountKeys.Normalize(definition.PayoutAddress))
            throw MarketException.Invalid("payoutAddress", "PayoutAddressIsFixed",
                $"Pool '{definition.PoolKey}' pays {known.PayoutAddress}; a pool's payout address never changes.");
        // The same address in another case is the same address: kept as the pool has it.
        return definition with { PayoutAddress = known.PayoutAddress };
    }

    public async Task<LeaseSnapshot?> ReserveAsync(LeaseOrder order, bool partialFill)
    {
        if (order.LeaseId is { } named && await BookedAlreadyAsync(order, named) is { } booked) return booked;
        var definition = Definition;
        var request = order.Request;
        Guid? quoteId = null;
        PoolQuote? quote = null;
        if (request.QuoteId is not null && ScopedIds.TryParse(request.QuoteId, out var id, out _))
        {
            quoteId = id;
            quote = UsableQuote(id, request);
        }
        AdvancePrice(definition);
        var price = quote?.PricePerSlotHour ?? state.State.Price;
        if (request.MaxPricePerSlotHour is { } max && price > max) return null;
        var fewest = partialFill ? request.MinSlots ?? request.Slots : request.Slots;
        // No more slots than the tenant's funds pay the deposit of: a partial fill stops there, a whole one does not book.
        var affordable = LeaseBilling.AffordableSlots(order.Funds, price, request.Slots, request.Hours);
        if (affordable < fewest)
        {
            // A quote names this pool and its price: nowhere else to look.
            if (quote is not null) throw PoolChoice.Unaffordable(price, fewest, request.Hours, order.Funds!.Value, $"the quote of pool {definition.PoolKey}");
            return null;
        }
        var chosen = FreeSlots(order.Window, affordable);
        if (chosen.Count < fewest) return null;

        var now = clock.GetUtcNow();
        // Time-ordered (RFC 9562 version 7): the lease book's index grows at its end instead of at random pages. An order
        // book's chosen id is one too, picked moments ago.
        var leaseId = order.LeaseId ?? Guid.CreateVersion7(now);
        var lease = ReservedLease.Create(leaseId, order, definition, chosen, price, _settlementGrace, now);
        var record = new BookedLease(leaseId, definition.PoolKey, chosen, order.Window, order.FundBy, lease);
        // Marked before the first await, so that a concurrent request sees these slots as taken.
        Keep(record);
        if (quoteId is { } used) state.State.Quotes.Remove(used);
        try
        {
            await book.WriteAsync(record);
            if (quoteId is not null) await SaveAsync();
        }
        catch
        {
            // Not stored, so not reserved: the slots are free again and the quote still good.
            Forget(leaseId);
            if (quoteId is { } unused) state.State.Quotes[unused] = quote!;
            throw;
        }

        Report(definition);
        ArmExpiry(order.FundBy);
        if (!_sweepArmed) await ArmSweepAsync();
        MarketMetrics.LeasesReserved.Add(1, new KeyValuePair<string, object?>("kind", definition.Kind));
        return lease;
    }

    /// <summary>
    /// The lease an order book's ask names when it is booked already, here or (as the lease book says) in another pool, so
    /// that an ask repeated after a lost answer gets that lease instead of a second one; null when it may be booked here.
    /// Refused once the ask is older than the fence: the book that sent it may have given up on it and looked the lease up.
    /// </summary>
    private async ValueTask<LeaseSnapshot?> BookedAlreadyAsync(LeaseOrder order, Guid leaseId)
    {
        if (clock.GetUtcNow() - order.RequestedAt > _orderFillFence)
            throw new MarketException(MarketError.Conflict, FillTooLate,
                $"The fill of lease '{LeaseIds.Format(leaseId)}' was asked for at {order.RequestedAt:O}, too long ago to book; ask again.");
        var lease = await HeldHereAsync(leaseId);
        if (lease is null)
        {
            var stored = await book.FindAsync(leaseId);
            // Looked at again after the read: an ask for the same id may have booked it here meanwhile. No await follows
            // when none has and the book has none, so nothing books it between this look and the booking.
            lease = await HeldHereAsync(leaseId) ?? stored?.Lease;
            if (lease is null && stored is not null)
                lease = await GrainFactory.GetGrain<ILeaseGrain>(leaseId).GetAsync()
                        ?? throw new MarketException(MarketError.Conflict, LeaseIdTaken, $"Lease '{LeaseIds.Format(leaseId)}' is booked in {stored.PoolKey}.");
        }
        if (lease is not null && lease.Tenant != order.Tenant)
            throw new MarketException(MarketError.Conflict, LeaseIdTaken, $"Lease '{LeaseIds.Format(leaseId)}' is another tenant's.");
        return lease;
    }

    /// <summary>The lease as this pool holds it: its own copy while it keeps it, its lease grain's once handed over; null when it holds none.</summary>
    private ValueTask<LeaseSnapshot?> HeldHereAsync(Guid leaseId)
    {
        if (_ending.TryGetValue(leaseId, out var ending)) return ValueTask.FromResult<LeaseSnapshot?>(ending);
        if (!_leases.TryGetValue(leaseId, out var record)) return ValueTask.FromResult<LeaseSnapshot?>(null);
        return record.Lease is { } kept ? ValueTask.FromResult<LeaseSnapshot?>(kept) : GrainFactory.GetGrain<ILeaseGrain>(leaseId).GetAsync();
    }

    public async Task<LeaseSnapshot?> CancelAsync(Guid leaseId, string tenant)
    {
        if (KeptReservation(leaseId) is not { } record) return null;
        if (AccountKeys.Normalize(tenant) != record.Lease!.Tenant)
            throw new MarketException(MarketError.NotYourLease, "NotYourLease", $"Lease '{LeaseIds.Format(leaseId)}' belongs to another tenant.");
        return await EndReservationAsync(record, LeaseStatus.Cancelled, LeaseReasons.CancelledByTenant, detail: null);
    }

    public async Task<LeaseSnapshot?> HandOverAsync(Guid leaseId)
    {
        if (_leases.TryGetValue(leaseId, out var record) && record.Lease is { } kept)
        {
            _handingOver.Add(leaseId);
            return kept;
        }
        // A reservation that ended here (cancelled, expired) is no longer kept in memory: it is in the book, or about to be.
        if (_ending.TryGetValue(leaseId, out var ending)) return ending;
        return await book.FindAsync(leaseId) is { Lease: { } ended } stored && stored.PoolKey == PoolKey ? ended : null;
    }

    public async Task CompleteHandOverAsync(Guid leaseId)
    {
        _handingOver.Remove(leaseId);
        if (_leases.TryGetValue(leaseId, out var record))
        {
            if (record.Lease is null) return;
            var handed = record with { Lease = null };
            _leases[leaseId] = handed;
            await book.WriteAsync(handed);
        }
        else if (_ending.ContainsKey(leaseId)
                 || await book.FindAsync(leaseId) is { Lease: not null } stored && stored.PoolKey == PoolKey && !stored.IsLive)
        {
            // Writes to the book are applied in the order they are made, so this follows the ended lease's own write.
            await book.RemoveAsync(leaseId);
        }
    }

    public async Task<Quote?> QuoteAsync(int slots, int hours, DateTimeOffset? start, Credits? maxPricePerSlotHour)
    {
        var definition = Definition;
        var now = clock.GetUtcNow();
        if (FreeSlots(LeaseWindow.From(start ?? now, TimeSpan.FromHours(hours)), slots).Count < slots) return null;
        AdvancePrice(definition);
        if (maxPricePerSlotHour is { } max && state.State.Price > max) return null;

        foreach (var expired in state.State.Quotes.Where(q => q.Value.ExpiresAt <= now).Select(q => q.Key).ToList())
            state.State.Quotes.Remove(expired);
        var id = Guid.NewGuid();
        var quote = new PoolQuote(slots, state.State.Price, now + _quoteValidity, hours, start);
        state.State.Quotes[id] = quote;
        await SaveAsync();
        return new Quote(ScopedIds.Format(id, definition.PoolKey), definition.PoolKey, definition.Kind, definition.Region,
            slots, quote.PricePerSlotHour, quote.ExpiresAt) { Hours = hours, Start = start };
    }

    public Task<DateTimeOffset?> EarliestStartAsync(int slots, TimeSpan duration, DateTimeOffset notBefore)
    {
        if (state.State.Definition is not { } definition || definition.SlotCount < slots) return Task.FromResult<DateTimeOffset?>(null);
        // A window that fits starts either at notBefore or right when some booking ends.
        var starts = _bookings.Values.SelectMany(b => b).Select(b => b.Window.End).Where(end => end > notBefore)
            .Append(notBefore).Distinct().Order();
        foreach (var start in starts)
        {
            if (FreeSlots(LeaseWindow.From(start, duration), slots).Count == slots) return Task.FromResult<DateTimeOffset?>(start);
        }
        return Task.FromResult<DateTimeOffset?>(null);
    }

    public async Task<IReadOnlyList<Guid>> DrainSlotAsync(int index, TimeSpan notice)
    {
        var definition = Definition;
        if (index < 0 || index >= definition.SlotCount)
            // 404 as inspection answers for the same slot and the drain for an unknown pool: the route names what is not there.
            throw new MarketException(MarketError.NotFound, "UnknownSlot", $"Pool {definition.PoolKey} has slots 0 to {definition.SlotCount - 1}.", "index");
        if (notice < TimeSpan.Zero || notice > MaxNotice)
            // Named and measured as providers send it: the API's noticeMinutes and the CLI's --notice are in minutes.
            throw MarketException.Invalid("noticeMinutes", "OutOfRange", $"The notice is 0 to {MaxNotice.TotalMinutes:0} minutes ({MaxNotice.TotalDays:0} days); got {notice.TotalMinutes:0}.");

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
        if (!_leases.TryGetValue(leaseId, out var record) || !record.Slots.Contains(fromIndex)) return null;

        foreach (var index in FreeSlots(record.Window))
        {
            if (record.Slots.Contains(index)) continue;
            var moved = record with { Slots = record.Slots.Select(i => i == fromIndex ? index : i).ToList() };
            Replace(record, moved);
            await book.WriteAsync(moved);
            return MarketKeys.Slot(definition.PoolKey, index);
        }
        return null;
    }

    public async Task<bool> ActivateAsync(Guid leaseId, LeaseWindow leased)
    {
        if (!_leases.TryGetValue(leaseId, out var record) || record.Slots.Count == 0 || !record.Window.Contains(leased)) return false;
        var activated = record with { Window = leased, HoldUntil = null };
        Replace(record, activated);
        await book.WriteAsync(activated);
        return true;
    }

    public async Task ReleaseAsync(Guid leaseId)
    {
        if (!_leases.TryGetValue(leaseId, out var record) || record.Slots.Count == 0) return;
        // The steps due so far are priced at the use that held during them, before these slots are free.
        var definition = Definition;
        AdvancePrice(definition);
        var released = record with { Slots = [] };
        if (released.IsLive) Replace(record, released);
        else Forget(leaseId);
        Report(definition);
        if (released.Lease is null) await book.RemoveAsync(leaseId);
        else await book.WriteAsync(released);
    }

    /// <summary>The durable backstop for funding deadlines (and the tidying of calendars): holds that outlived them expire.</summary>
    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        DropEndedBookings();
        return SweepOverdueHoldsAsync();
    }

    /// <summary>
    /// Reservations kept here whose funding deadline passed expire here; those that lease grains took over are handed
    /// back to them to expire.
    /// </summary>
    private async Task SweepOverdueHoldsAsync()
    {
        var now = clock.GetUtcNow();
        var overdue = _leases.Values.Where(r => r.HoldUntil <= now && r.Slots.Count > 0).ToList();
        foreach (var record in overdue.Where(r => r.Lease is null))
            GrainFactory.GetGrain<ILeaseGrain>(record.LeaseId).CheckDeadlineAsync().Ignore();
        foreach (var leaseId in overdue.Where(r => r.Lease is not null).Select(r => r.LeaseId))
        {
            // Looked up again: an earlier expiry's write let other requests in, and one may have cancelled this one.
            if (KeptReservation(leaseId) is { } record)
                await EndReservationAsync(record, LeaseStatus.Expired, LeaseReasons.ReservationNotFunded, $"no escrow seen on chain by {record.Lease!.FundBy:O}");
        }
        ArmExpiry(next: null);
    }

    /// <summary>One timer, at the next funding deadline of a reservation kept here (in steps of <see cref="ExpiryGranularity"/>).</summary>
    private void ArmExpiry(DateTimeOffset? next)
    {
        if (next is { } due && _expiryDue is { } armed && armed <= due) return;
        next ??= _leases.Values.Where(r => r.Lease is { Status: LeaseStatus.Reserved } && r.HoldUntil is not null)
            .Select(r => r.HoldUntil).Min();
        _expiryTimer?.Dispose();
        _expiryTimer = null;
        _expiryDue = null;
        if (next is not { } at) return;

        var dueIn = at - clock.GetUtcNow();
        if (dueIn < ExpiryGranularity) dueIn = ExpiryGranularity;
        _expiryDue = at;
        _expiryTimer = this.RegisterGrainTimer(_ =>
        {
            _expiryDue = null;
            return SweepOverdueHoldsAsync();
        }, new GrainTimerCreationOptions { DueTime = dueIn, Period = Timeout.InfiniteTimeSpan, Interleave = true, KeepAlive = true });
    }

    /// <summary>Ends a reservation kept here: its slots are free, and its record keeps the ended lease until its lease grain asks.</summary>
    private async Task<LeaseSnapshot> EndReservationAsync(BookedLease record, LeaseStatus status, string reason, string? detail)
    {
        var lease = LeaseTransitions.Apply(record.Lease!, status, reason, detail, clock.GetUtcNow(), logger);
        // The steps due so far are priced at the use that held during them, before these slots are free.
        var definition = Definition;
        AdvancePrice(definition);
        Forget(record.LeaseId);
        // Until its write is stored, a lease grain that asks for the lease gets it from here, not the book's older copy.
        _ending[record.LeaseId] = lease;
        var write = book.WriteAsync(record with { Slots = [], HoldUntil = null, Lease = lease });
        Report(definition);
        try
        {
            await write;
        }
        catch
        {
            // Not stored, so not ended: the reservation holds its slots again, as the book still says.
            Keep(record);
            throw;
        }
        finally
        {
            _ending.Remove(record.LeaseId);
        }
        return lease;
    }

    public ValueTask<PoolSnapshot> GetAsync()
    {
        var definition = state.State.Definition;
        var holders = HoldersNow();
        var available = definition is null ? 0 : AvailableNow(definition);
        var price = definition is null ? Credits.Zero : PriceNow(definition).Price;
        var bookings = _bookings.Where(b => b.Value.Count > 0)
            .ToDictionary(b => b.Key, b => (IReadOnlyList<SlotBooking>)b.Value.OrderBy(x => x.Window.Start).ToList());
        return ValueTask.FromResult(new PoolSnapshot(this.GetPrimaryKeyString(), definition, available, holders, price, bookings,
            state.State.Draining.Order().ToList()));
    }

    public ValueTask<SlotSnapshot> GetSlotAsync(int index)
    {
        var calendar = _bookings.TryGetValue(index, out var bookings) ? bookings.OrderBy(b => b.Window.Start).ToList() : [];
        var now = clock.GetUtcNow();
        var current = calendar.FirstOrDefault(b => b.Window.Contains(now));
        var draining = state.State.Draining.Contains(index);
        var status = current is not null ? current.HoldUntil is null ? SlotStatus.Leased : SlotStatus.Reserved
            : draining ? SlotStatus.OutOfService : SlotStatus.Available;
        return ValueTask.FromResult(new SlotSnapshot(MarketKeys.Slot(PoolKey, index), status, current?.LeaseId,
            current?.HoldUntil ?? current?.Window.End, calendar) { Draining = draining });
    }

    /// <summary>
    /// The quote, when it priced this very request: the same slots, hours and window. A price is only a promise for the lease
    /// it was given for; used for a longer lease or a later window it would sell capacity the live price has since moved on.
    /// </summary>
    private PoolQuote UsableQuote(Guid quoteId, LeaseRequest request)
    {
        if (!state.State.Quotes.TryGetValue(quoteId, out var quote))
            throw MarketException.Invalid("quoteId", "UnknownQuote", "This pool gave no such quote, or it was used already.");
        var now = clock.GetUtcNow();
        if (quote.ExpiresAt <= now)
            throw new MarketException(MarketError.Conflict, "QuoteExpired", $"The quote expired at {quote.ExpiresAt:O}; ask for a new one.", "quoteId");
        if (quote.Slots != request.Slots)
            throw MarketException.Invalid("slots", "QuoteMismatch", $"The quote is for {quote.Slots} slot(s), the request for {request.Slots}.");
        if (quote.Hours != request.Hours)
            throw MarketException.Invalid("hours", "QuoteMismatch", $"The quote is for {quote.Hours} h, the request for {request.Hours} h.");
        // A start within the tolerance of "now" is now, as it is for any request; a reserved block must start when quoted.
        var quoted = quote.Start ?? now;
        var asked = request.Start ?? now;
        if ((asked - quoted).Duration() > LeaseRequestRules.StartTolerance)
            throw MarketException.Invalid("start", "QuoteMismatch",
                $"The quote is for a window starting {(quote.Start is { } at ? $"at {at:O}" : "now")}, the request for one starting {(request.Start is { } start ? $"at {start:O}" : "now")}.");
        return quote;
    }

    /// <summary>Up to <paramref name="limit"/> slot indexes with no booking overlapping <paramref name="window"/>, lowest first.</summary>
    private List<int> FreeSlots(LeaseWindow window, int limit = int.MaxValue)
    {
        var free = new List<int>(Math.Min(limit, 8));
        var count = Definition.SlotCount;
        for (var index = 0; index < count && free.Count < limit; index++)
        {
            if (state.State.Draining.Contains(index) || (_bookings.TryGetValue(index, out var bookings) && Overlaps(bookings, window))) continue;
            free.Add(index);
        }
        return free;
    }

    private static bool Overlaps(List<SlotBooking> bookings, LeaseWindow window)
    {
        foreach (var booking in bookings)
        {
            if (booking.Window.Overlaps(window)) return true;
        }
        return false;
    }

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

    /// <summary>Bookings whose window is over leave the calendars (and the book: a lease grain ends its lease by then).</summary>
    private void DropEndedBookings()
    {
        var now = clock.GetUtcNow();
        foreach (var record in _leases.Values.Where(r => r.Window.End <= now && r.Slots.Count > 0 && r.Lease is null).ToList())
        {
            Forget(record.LeaseId);
            book.RemoveAsync(record.LeaseId).Ignore();
        }
    }

    /// <summary>A reservation this pool keeps and acts on itself: not ended, not being handed to its lease grain.</summary>
    private BookedLease? KeptReservation(Guid leaseId) =>
        _leases.TryGetValue(leaseId, out var record) && record.Lease is { Status: LeaseStatus.Reserved } && !_handingOver.Contains(leaseId)
            ? record
            : null;

    private void Keep(BookedLease record)
    {
        _leases[record.LeaseId] = record;
        var booking = new SlotBooking(record.LeaseId, record.Window, record.HoldUntil);
        foreach (var index in record.Slots) BookingsOf(index).Add(booking);
    }

    private void Forget(Guid leaseId)
    {
        if (!_leases.Remove(leaseId, out var record)) return;
        foreach (var index in record.Slots)
        {
            var bookings = BookingsOf(index);
            bookings.RemoveAll(b => b.LeaseId == leaseId);
            if (bookings.Count == 0) _bookings.Remove(index);
        }
    }

    private void Replace(BookedLease record, BookedLease next)
    {
        Forget(record.LeaseId);
        Keep(next);
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
        var price = PriceNow(definition).Price;
        var available = AvailableNow(definition);
        var urgent = _lastReport is { } last && (price != last.PricePerSlotHour || (available == 0) != (last.AvailableSlots == 0));
        if (_reportTimer is not null && !urgent) return;
        var status = new PoolStatus(definition.PoolKey, price, available);
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
        new(definition.PoolKey, PriceNow(definition).Price, AvailableNow(definition));

    /// <summary>Slots free now: neither held nor being drained (counted without building the holders: on every booking's path).</summary>
    private int AvailableNow(PoolDefinition definition)
    {
        var now = clock.GetUtcNow();
        var held = 0;
        var drainingHeld = 0;
        foreach (var (index, bookings) in _bookings)
        {
            foreach (var booking in bookings)
            {
                if (!booking.Window.Contains(now)) continue;
                held++;
                if (state.State.Draining.Contains(index)) drainingHeld++;
                break;
            }
        }
        return definition.SlotCount - held - (state.State.Draining.Count - drainingHeld);
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
