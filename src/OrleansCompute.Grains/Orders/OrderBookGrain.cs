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
}

/// <summary>
/// One kind's standing orders. While any is open, a timer tries to fill them in price-time priority, each through
/// an ordinary lease request, so an order fills exactly as a tenant's own request would; a reminder wakes the book
/// again after a restart.
/// </summary>
public sealed class OrderBookGrain(
    [PersistentState("orders", GrainStorage.Market)] IPersistentState<OrderBookState> state,
    IOptions<MarketOptions> options,
    TimeProvider clock,
    ILogger<OrderBookGrain> logger) : Grain, IOrderBookGrain, IRemindable
{
    private const string WakeReminder = "order-book-wake";
    private readonly MarketOptions _options = options.Value;
    private IGrainTimer? _matchTimer;
    /// <summary>
    /// Whether matching changed orders that are not stored yet (their write failed, or a request failed before it): a
    /// fill's lease is reserved and cannot be undone, so it is written at the next try; a book that reopened the order
    /// from storage would fill it twice.
    /// </summary>
    private bool _matchesUnsaved;

    private string Kind => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
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
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Not stored, so not placed: the tenant is told so, and the book must not fill it behind its back.
            state.State.Orders.Remove(id);
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
        if (order.Status != OrderStatus.Open)
            throw new MarketException(MarketError.Conflict, "OrderNotOpen", $"The order is {order.Status}{(order.LeaseId is { } lease ? $" (lease {LeaseIds.Format(lease)})" : "")}; only open orders can be cancelled.");

        state.State.Orders[orderId] = order with { Status = OrderStatus.Cancelled, Reason = "CancelledByTenant" };
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Not stored, so not cancelled: it rests as the tenant was told it still does.
            state.State.Orders[orderId] = order;
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

    /// <summary>Tries each open order in price-time priority; an order that cannot fill now keeps resting, with the market's reason.</summary>
    private async Task MatchAsync()
    {
        var now = clock.GetUtcNow();
        var open = state.State.Orders.Where(o => o.Value.Status == OrderStatus.Open)
            .OrderBy(o => Priority(o.Value)).ThenBy(o => o.Value.PlacedAt).ToList();
        try
        {
            foreach (var (id, order) in open)
            {
                if (now >= order.ExpiresAt)
                {
                    Record(id, order with { Status = OrderStatus.Expired, Reason = "OrderExpired" });
                    continue;
                }
                try
                {
                    var lease = await GrainFactory.RequestLeaseAsync(order.Tenant, order.Request);
                    Record(id, order with { Status = OrderStatus.Filled, LeaseId = lease.Id, Reason = "Filled" });
                }
                catch (MarketException unfilled)
                {
                    if (order.Reason != unfilled.Reason) Record(id, order with { Reason = unfilled.Reason });
                }
            }
        }
        finally
        {
            // Also when a request failed midway (a silo gone): the fills before it are reserved leases, stored now or at the next try.
            if (_matchesUnsaved) await SaveMatchesAsync();
            await ArmAsync();
        }
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
