using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

/// <summary>
/// The host's way in for a new lease: it asks the cheapest promising pool straight away, choosing from a copy of the
/// kind's market view that it keeps in this silo and refreshes from the market grain at most every
/// <see cref="MarketOptions.RouterViewAge"/>, so a lease costs one grain call instead of two (the market's, then the
/// pool's). When its choice is refused (the pool filled up or repriced since the view was taken), or the request is one
/// the market alone decides (any kind, a quote, a block booked ahead, a partial fill), the market takes it, as
/// <see cref="LeaseRequests.RequestLeaseAsync"/> does: it knows every pool's latest report, and it says why when nothing fits.
/// </summary>
public sealed class LeaseRouter(IGrainFactory grains, IOptions<MarketOptions> options, TimeProvider clock)
{
    /// <summary>Pools tried from the silo's view before the market takes over.</summary>
    private const int DirectTries = 2;
    private readonly MarketOptions _options = options.Value;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _views = new(StringComparer.Ordinal);

    /// <param name="funds">What the tenant can pay a deposit from, as the host read it on the chain (<see cref="LeaseOrder.Funds"/>).</param>
    public async Task<LeaseSnapshot> RequestAsync(string tenant, LeaseRequest request, Credits? funds = null)
    {
        if (LeaseRequests.AsksForAnyKind(request) || request.QuoteId is not null || request.Start is not null || request.MinSlots is not null)
            return await grains.RequestLeaseAsync(tenant, request, funds);

        var now = clock.GetUtcNow();
        var order = LeaseOrders.Validated(tenant, request, _options, now, funds);
        var market = GrainReferences.Get<IMarketGrain>(grains, MarketKeys.Market(order.Request.Kind));
        var view = await ViewAsync(order.Request.Kind, market, now);

        var tries = 0;
        foreach (var pool in view.Promising(order))
        {
            if (tries++ == DirectTries) break;
            if (await GrainReferences.Get<IPoolGrain>(grains, pool).ReserveAsync(order) is { } lease) return lease;
            view.Refused(pool);
        }
        return await market.ReserveAsync(order);
    }

    /// <summary>
    /// The kind's view: the copy at hand while it is young enough; when it is older, still that copy for this request
    /// while one refresh (never more) fetches the next; only a silo with no copy yet waits for one.
    /// </summary>
    private async ValueTask<View> ViewAsync(string kind, IMarketGrain market, DateTimeOffset now)
    {
        Task<View>? refreshing;
        lock (_lock)
        {
            _views.TryGetValue(kind, out var entry);
            if (entry.Current is { } current && now - current.TakenAt < _options.RouterViewAge) return current;
            refreshing = entry.Refreshing;
            if (refreshing is null)
            {
                refreshing = RefreshAsync(kind, market);
                _views[kind] = entry with { Refreshing = refreshing };
            }
            if (entry.Current is { } stale) return stale;
        }
        return await refreshing;
    }

    private async Task<View> RefreshAsync(string kind, IMarketGrain market)
    {
        await Task.Yield();
        try
        {
            var fresh = new View(await market.GetAsync(), clock.GetUtcNow());
            lock (_lock) _views[kind] = new Entry(fresh, null);
            return fresh;
        }
        catch
        {
            lock (_lock) _views[kind] = _views[kind] with { Refreshing = null };
            throw;
        }
    }

    private readonly record struct Entry(View? Current, Task<View>? Refreshing);

    /// <summary>The market's directory and last reports at one moment: pools cheapest first, and those refused since.</summary>
    private sealed class View
    {
        private readonly (PoolDefinition Pool, PoolStatus Status)[] _byPrice;
        private readonly HashSet<string> _refused = [];

        public View(MarketSnapshot snapshot, DateTimeOffset takenAt)
        {
            TakenAt = takenAt;
            var reported = snapshot.LastReported.ToDictionary(s => s.PoolKey, StringComparer.Ordinal);
            _byPrice = snapshot.Pools
                .Select(p => (p, reported.TryGetValue(p.PoolKey, out var status) ? status : PoolChoice.Unreported(p)))
                .OrderBy(p => p.Item2.PricePerSlotHour).ThenBy(p => p.p.PoolKey, StringComparer.Ordinal)
                .ToArray();
        }

        public DateTimeOffset TakenAt { get; }

        /// <summary>
        /// Pools that last reported room for the request at a price within it and a deposit within the tenant's funds,
        /// cheapest first: one the tenant cannot pay is not asked, so its refusal never marks a pool that has room.
        /// </summary>
        public IEnumerable<string> Promising(LeaseOrder order)
        {
            var request = order.Request;
            foreach (var (pool, status) in _byPrice)
            {
                if (PoolChoice.Matches(pool, request) && PoolChoice.Promising(status, request) && !IsRefused(pool.PoolKey)
                    && LeaseBilling.AffordableSlots(order.Funds, status.PricePerSlotHour, request.Slots, request.Hours) == request.Slots)
                    yield return pool.PoolKey;
            }
        }

        public void Refused(string poolKey)
        {
            lock (_refused) _refused.Add(poolKey);
        }

        private bool IsRefused(string poolKey)
        {
            lock (_refused) return _refused.Contains(poolKey);
        }
    }
}
