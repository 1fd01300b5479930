using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Orders;
using OrleansCompute.Grains.Market;

namespace OrleansCompute.Grains.Orders;

[GenerateSerializer, Alias("occ.order-book-state")]
public sealed class OrderBookState
{
    [Id(0)] public Dictionary<Guid, StandingOrder> Orders { get; set; } = [];

    /// <summary>
    /// Open order → the lease its fill books (write-ahead): a book that stopped after a pool booked a fill, and before it
    /// stored the order Filled, finds that lease when it comes back instead of filling the order again.
    /// </summary>
    [Id(1)] public Dictionary<Guid, PendingFill> Fills { get; set; } = [];
}

/// <summary>
/// One kind's standing orders. While any is open, a timer tries to fill them in price-time priority, each through
/// an ordinary lease request, so an order fills exactly as a tenant's own request would; a reminder wakes the book
/// again after a restart. Each order fills once: the lease id of its fill is stored before the market is asked for it
/// (<see cref="OrderBookState.Fills"/>), a pool books that id at most once, and a fill whose answer never came is
/// looked up by that id before anything else happens to its order.
/// </summary>
public sealed class OrderBookGrain(
    [PersistentState("orders", GrainStorage.Market)] IPersistentState<OrderBookState> state,
    ILeaseBook book,
    IOptions<MarketOptions> options,
    TimeProvider clock,
    ILogger<OrderBookGrain> logger) : Grain, IOrderBookGrain, IRemindable
{
    private const string WakeReminder = "order-book-wake";

    /// <summary>
    /// How long an order that keeps resting asks with the same lease id (one write to choose it, not one per try); then it
    /// takes a new one, so that a fill's id is close to its time, as every lease's is: the lease book's index grows at its
    /// end, and a tenant's escrow channel takes only ids newer than its last lease's.
    /// </summary>
    private static readonly TimeSpan FillIdReuse = TimeSpan.FromMinutes(1);
    private readonly MarketOptions _options = options.Value;
    private IGrainTimer? _matchTimer;
    /// <summary>
    /// Whether matching changed orders that are not stored yet (their write failed, or a request failed before it): a
    /// fill's lease is reserved and cannot be undone, so it is written at the next try (a book that stops first finds the
    /// lease by its stored id).
    /// </summary>
    private bool _matchesUnsaved;

    /// <summary>
    /// Fills asked for without an answer (by an earlier activation, or a call that failed), by lease id, with the latest
    /// time such an ask may have been sent. They are never asked for again, which could race the unanswered ask to
    /// another pool; they are looked up until twice <see cref="MarketOptions.OrderFillFence"/> after that time, when
    /// no pool books them any more and a booking made in time is stored: then not found means never booked.
    /// </summary>
    private readonly Dictionary<Guid, DateTimeOffset> _unanswered = [];

    private string Kind => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // An earlier activation may have asked for any fill it stored, last before now.
        var now = clock.GetUtcNow();
        foreach (var fill in state.State.Fills.Values) _unanswered[fill.LeaseId] = now;
        await ArmAsync();
        await base.OnActivateAsync(cancellationToken);
    }

    public async Task<StandingOrder> PlaceAsync(string tenant, LeaseRequest request, TimeSpan validFor)
    {
        if (!AccountKeys.IsAddress(tenant))
            throw MarketException.Invalid("tenant", "MalformedAddress", $"'{tenant}' is not an Ethereum address.");
        var now = clock.GetUtcNow();
        try
        {
            request = Validated(request, now);
        }
        catch (MarketException refused)
        {
            throw InLease(refused);
        }
        if (validFor <= TimeSpan.Zero || validFor > _options.MaxOrderLifetime)
            // Named and measured as tenants send it: the API's validForMinutes and the CLI's --valid-for are in minutes.
            throw MarketException.Invalid("validForMinutes", "OutOfRange",
                $"An order rests from 1 minute to {_options.MaxOrderLifetime.TotalMinutes:0} minutes ({_options.MaxOrderLifetime.TotalDays:0.##} days).");
        // What the market refuses a lease for as bad input (a region with no pool of the kind, more slots than its largest
        // pool has) is refused here the same way, before anything rests; an order rests only for what may change: free room, price.
        var market = await GrainReferences.Get<IMarketGrain>(GrainFactory, MarketKeys.Market(Kind)).GetAsync();
        if (PoolChoice.Unmatched(market.Kind, market.Pools, request) is { Error: MarketError.InvalidRequest } bad) throw InLease(bad);

        var id = Guid.NewGuid();
        var order = new StandingOrder(ScopedIds.Format(id, Kind), AccountKeys.Normalize(tenant), request, now, now + validFor, OrderStatus.Open);
        state.State.Orders[id] = order;
        // The lease id of its first ask is stored with it, so that filling it at once costs no write of its own.
        state.State.Fills[id] = new PendingFill(Guid.CreateVersion7(now), now);
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Not stored, so not placed: the tenant is told so, and the book must not fill it behind its back.
            state.State.Orders.Remove(id);
            state.State.Fills.Remove(id);
            throw;
        }
        await GrainFactory.GetGrain<IAccountGrain>(order.Tenant).AddOrderAsync(order.Id);

        await MatchAsync();
        return state.State.Orders[id];
    }

    /// <summary>The order's request checked as a lease request for this book, ready to rest.</summary>
    private LeaseRequest Validated(LeaseRequest request, DateTimeOffset now)
    {
        request = LeaseRequestRules.Validate(request, _options, now);
        if (request.Kind != Kind)
            throw MarketException.Invalid("kind", "WrongBook", $"This is the order book of {Kind}, not {request.Kind}.");
        if (request.QuoteId is not null)
            throw MarketException.Invalid("quoteId", "QuoteNotForOrders", "A quote is for a lease made now; a standing order takes the price when it fills.");
        return request;
    }

    /// <summary>
    /// A refusal of the order's request names the field as tenants send it: the request is the order body's <c>lease</c>
    /// (<c>{lease: {…}, validForMinutes}</c>), so <c>lease.slots</c>, as the API names a value of it that does not bind.
    /// </summary>
    private static MarketException InLease(MarketException refused) =>
        refused.Field is null ? refused : new MarketException(refused.Error, refused.Reason, refused.Message, "lease." + refused.Field);

    public async Task<StandingOrder> CancelAsync(string tenant, Guid orderId)
    {
        if (!state.State.Orders.TryGetValue(orderId, out var order))
            throw new MarketException(MarketError.NotFound, "UnknownOrder", $"No {Kind} order '{ScopedIds.Format(orderId, Kind)}'.");
        if (order.Tenant != AccountKeys.Normalize(tenant))
            throw new MarketException(MarketError.NotYourLease, "NotYourOrder", "The order belongs to another tenant.");
        // Its fill may be booked, and a filled order is not cancelled: wait until that is known (seconds, and only after a
        // failure), so that a cancel never leaves behind a lease that no order names.
        while (order.Status == OrderStatus.Open && Unanswered(orderId) is { } fill && !await SettleUnansweredAsync(orderId, order, fill))
            await Task.Delay(TimeSpan.FromMilliseconds(100), clock);
        if (_matchesUnsaved) await SaveMatchesAsync();
        order = state.State.Orders[orderId];
        if (order.Status != OrderStatus.Open)
            throw new MarketException(MarketError.Conflict, "OrderNotOpen", $"The order is {order.Status}{(order.LeaseId is { } lease ? $" (lease {LeaseIds.Format(lease)})" : "")}; only open orders can be cancelled.");

        state.State.Orders[orderId] = order with { Status = OrderStatus.Cancelled, Reason = "CancelledByTenant" };
        // Known unbooked (answered, or settled above): the id goes with the order.
        state.State.Fills.Remove(orderId, out var unused);
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Not stored, so not cancelled: it rests as the tenant was told it still does.
            state.State.Orders[orderId] = order;
            if (unused is not null) state.State.Fills[orderId] = unused;
            throw;
        }
        await ArmAsync();
        return state.State.Orders[orderId];
    }

    public Task<StandingOrder?> GetAsync(Guid orderId) =>
        Task.FromResult(state.State.Orders.GetValueOrDefault(orderId));

    public Task<IReadOnlyList<StandingOrder>> ListAsync() =>
        Task.FromResult<IReadOnlyList<StandingOrder>>(state.State.Orders.Values
            .OrderBy(o => o.Status == OrderStatus.Open ? 0 : 1).ThenBy(Priority).ThenBy(o => o.PlacedAt).ToList());

    public Task ReceiveReminder(string reminderName, TickStatus status) => MatchAsync();

    /// <summary>
    /// Tries each open order in price-time priority; an order that cannot fill now keeps resting, with the market's reason.
    /// An order whose last ask went unanswered is first looked up, and waits until that settles whether it filled.
    /// </summary>
    private async Task MatchAsync()
    {
        var now = clock.GetUtcNow();
        var open = state.State.Orders.Where(o => o.Value.Status == OrderStatus.Open)
            .OrderBy(o => Priority(o.Value)).ThenBy(o => o.Value.PlacedAt).ToList();
        try
        {
            var asking = new List<(Guid Id, StandingOrder Order)>();
            foreach (var (id, order) in open)
            {
                if (Unanswered(id) is { } fill && !await SettleUnansweredAsync(id, order, fill)) continue;
                if (state.State.Orders[id].Status != OrderStatus.Open) continue;
                if (now >= order.ExpiresAt)
                {
                    state.State.Fills.Remove(id);
                    Record(id, order with { Status = OrderStatus.Expired, Reason = "OrderExpired" });
                    continue;
                }
                asking.Add((id, order));
            }
            if (!await ChooseFillIdsAsync(asking, now)) return;
            foreach (var (id, order) in asking) await AskAsync(id, order);
        }
        finally
        {
            // Also when a request failed midway (a silo gone): the fills before it are reserved leases, stored now or at the next try.
            if (_matchesUnsaved) await SaveMatchesAsync();
            await ArmAsync();
        }
    }

    private PendingFill? Unanswered(Guid orderId) =>
        state.State.Fills.TryGetValue(orderId, out var fill) && _unanswered.ContainsKey(fill.LeaseId) ? fill : null;

    /// <summary>
    /// Whether an unanswered fill is settled: the order is Filled when its lease exists, and its id is dropped once it
    /// surely never will (no pool books an ask that old); false while neither is known yet.
    /// </summary>
    private async Task<bool> SettleUnansweredAsync(Guid orderId, StandingOrder order, PendingFill fill)
    {
        var settled = clock.GetUtcNow() >= _unanswered[fill.LeaseId] + 2 * _options.OrderFillFence;
        if (await FindLeaseAsync(fill.LeaseId, inLeaseGrain: settled) is { } lease && lease.Tenant == order.Tenant)
        {
            Filled(orderId, order, lease);
            return true;
        }
        if (!settled) return false;
        _unanswered.Remove(fill.LeaseId);
        state.State.Fills.Remove(orderId);
        return true;
    }

    /// <summary>
    /// The lease, as the host finds one by id (<see cref="Leases.LeaseDirectory"/>): in the lease book while a pool has a
    /// record of it, else in its lease grain. The grain only when asked: a grain woken before its pool books the lease would
    /// hold nothing and never take the lease over from its pool.
    /// </summary>
    private async Task<LeaseSnapshot?> FindLeaseAsync(Guid leaseId, bool inLeaseGrain)
    {
        if (await book.FindAsync(leaseId) is { } record)
            return record.Lease ?? await GrainFactory.GetGrain<ILeaseGrain>(leaseId).GetAsync();
        return inLeaseGrain ? await GrainFactory.GetGrain<ILeaseGrain>(leaseId).GetAsync() : null;
    }

    /// <summary>
    /// Gives each order about to be asked for a lease id, stored before any ask (one write for all of them); false, and
    /// nothing asked, when that write fails.
    /// </summary>
    private async Task<bool> ChooseFillIdsAsync(List<(Guid Id, StandingOrder Order)> asking, DateTimeOffset now)
    {
        var chosen = new List<Guid>();
        foreach (var (id, _) in asking)
        {
            if (state.State.Fills.TryGetValue(id, out var fill) && now - fill.ChosenAt < FillIdReuse) continue;
            state.State.Fills[id] = new PendingFill(Guid.CreateVersion7(now), now);
            chosen.Add(id);
        }
        if (chosen.Count == 0) return true;
        try
        {
            await state.WriteStateAsync();
            _matchesUnsaved = false;
            return true;
        }
        catch (Exception e)
        {
            // Not stored, so not asked for: an id the book may not find again after a restart is never sent.
            foreach (var id in chosen) state.State.Fills.Remove(id);
            logger.LogWarning(e, "Storing the {Kind} order book's next fills failed; trying again at the next interval", Kind);
            return false;
        }
    }

    /// <summary>Asks the market for the order's lease under its stored id; no answer leaves the fill unanswered, to be looked up.</summary>
    private async Task AskAsync(Guid id, StandingOrder order)
    {
        var fill = state.State.Fills[id];
        var askedAt = clock.GetUtcNow();
        try
        {
            var ask = LeaseOrders.Validated(order.Tenant, order.Request, _options, askedAt) with { LeaseId = fill.LeaseId };
            Filled(id, order, await GrainReferences.Get<IMarketGrain>(GrainFactory, MarketKeys.Market(Kind)).ReserveAsync(ask));
        }
        catch (MarketException unfilled)
        {
            // A refusal books nothing. An id another lease has (never, for a fresh Guid v7) is given up for a new one.
            if (unfilled.Reason == PoolGrain.LeaseIdTaken) state.State.Fills.Remove(id);
            if (order.Reason != unfilled.Reason) Record(id, order with { Reason = unfilled.Reason });
        }
        catch (Exception e)
        {
            _unanswered[fill.LeaseId] = askedAt;
            logger.LogWarning(e, "Filling {Order} got no answer; its lease {Lease} is looked up before the order is asked for again", order.Id, LeaseIds.Format(fill.LeaseId));
        }
    }

    private void Filled(Guid id, StandingOrder order, LeaseSnapshot lease)
    {
        state.State.Fills.Remove(id);
        _unanswered.Remove(lease.Id);
        Record(id, order with { Status = OrderStatus.Filled, LeaseId = lease.Id, Reason = "Filled" });
    }

    private void Record(Guid id, StandingOrder order)
    {
        state.State.Orders[id] = order;
        _matchesUnsaved = true;
    }

    private async Task SaveMatchesAsync()
    {
        try
        {
            await state.WriteStateAsync();
            _matchesUnsaved = false;
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Storing the {Kind} order book's fills failed; they are kept and stored at the next try", Kind);
        }
    }

    /// <summary>
    /// A timer while orders are open or fills are not stored yet (one try per interval), a reminder to come back after a
    /// restart, neither otherwise.
    /// </summary>
    private async Task ArmAsync()
    {
        var matching = _matchesUnsaved || state.State.Orders.Values.Any(o => o.Status == OrderStatus.Open);
        if (matching && _matchTimer is null)
        {
            _matchTimer = this.RegisterGrainTimer(async _ =>
            {
                try
                {
                    await MatchAsync();
                }
                catch (Exception e)
                {
                    logger.LogWarning(e, "Matching the {Kind} order book failed; trying again at the next interval", Kind);
                }
            }, new GrainTimerCreationOptions { DueTime = _options.OrderMatchInterval, Period = _options.OrderMatchInterval, KeepAlive = true });
            await this.RegisterOrUpdateReminder(WakeReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        }
        else if (!matching && _matchTimer is not null)
        {
            _matchTimer.Dispose();
            _matchTimer = null;
            if (await this.GetReminder(WakeReminder) is { } reminder) await this.UnregisterReminder(reminder);
        }
    }

    /// <summary>Highest max price first; an order without a max price takes any price, so it goes before all.</summary>
    private static decimal Priority(StandingOrder order) => -(order.Request.MaxPricePerSlotHour?.Units ?? decimal.MaxValue);
}
