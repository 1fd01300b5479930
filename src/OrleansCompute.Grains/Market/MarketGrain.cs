using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

[GenerateSerializer, Alias("occ.market-state")]
public sealed class MarketState
{
    [Id(0)] public Dictionary<string, PoolDefinition> Pools { get; set; } = [];
}

/// <summary>
/// The market for one kind. It keeps the directory of pools (persisted) and the last price and free capacity each
/// pool reported (in memory: a hint for which pool to ask first); the pools decide. Reentrant, so requests
/// interleave here and serialize only in the pool they reserve from.
/// </summary>
[Reentrant]
public sealed class MarketGrain(
    [PersistentState("market", GrainStorage.Market)] IPersistentState<MarketState> state,
    IOptions<MarketOptions> options,
    TimeProvider clock) : Grain, IMarketGrain
{
    private readonly Dictionary<string, PoolStatus> _reported = [];
    // Grain references are resolved once: GetGrain looks up the interface's grain type by reflection on every call.
    private readonly Dictionary<string, IPoolGrain> _pools = [];
    private List<(string Key, PoolDefinition Pool)>? _byPrice;

    private string Kind => this.GetPrimaryKeyString();

    public async Task RegisterPoolAsync(PoolDefinition pool, PoolStatus status)
    {
        _reported[pool.PoolKey] = status;
        _byPrice = null;
        if (state.State.Pools.TryGetValue(pool.PoolKey, out var known) && known == pool) return;
        state.State.Pools[pool.PoolKey] = pool;
        await state.WriteStateAsync();
    }

    public Task ReportAsync(PoolStatus status)
    {
        if (!_reported.TryGetValue(status.PoolKey, out var last) || last.PricePerSlotHour != status.PricePerSlotHour) _byPrice = null;
        _reported[status.PoolKey] = status;
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<Offer>> GetOffersAsync(string? region)
    {
        if (!AcceleratorCatalog.TryGet(Kind, out var profile)) return [];
        var pools = state.State.Pools.Values.Where(p => region is null || p.Region == region).ToList();
        var snapshots = await Task.WhenAll(pools.Select(p => Pool(p.PoolKey).GetAsync().AsTask()));
        foreach (var s in snapshots) _reported[s.Key] = new PoolStatus(s.Key, s.PricePerSlotHour, s.AvailableSlots);
        _byPrice = null;
        return snapshots
            .Where(s => s.Definition is not null)
            .Select(s => new Offer(s.Key, s.Definition!.ProviderId, s.Definition.Kind, s.Definition.Region,
                s.AvailableSlots, s.Definition.SlotCount, s.PricePerSlotHour,
                profile.PricePerMillionTokens(s.PricePerSlotHour), profile.EnergyWhPerMillionTokens, profile))
            .OrderBy(o => o.PricePerSlotHour).ThenBy(o => o.PoolKey, StringComparer.Ordinal)
            .ToList();
    }

    public Task<LeaseSnapshot> RequestAsync(string tenant, LeaseRequest request, Credits? funds = null)
    {
        var order = LeaseOrders.Validated(tenant, request, options.Value, clock.GetUtcNow(), funds);
        if (order.Request.Kind != Kind)
            throw MarketException.Invalid("kind", "WrongMarket", $"The {Kind} market takes {Kind} requests; this one is for {order.Request.Kind}.");
        return ReserveAsync(order);
    }

    public async Task<LeaseSnapshot> ReserveAsync(LeaseOrder order)
    {
        var request = order.Request;
        if (request.QuoteId is not null) return await ReserveQuotedAsync(order);

        foreach (var (poolKey, pool) in Cheapest(request))
        {
            var reported = Claim(poolKey, pool, request);
            if (await Pool(poolKey).ReserveAsync(order) is { } lease) return lease;
            Refused(poolKey, pool, order, reported);
        }
        // None took it whole: the full list, which also says precisely why a request can match no pool at all.
        var candidates = Candidates(request);
        if (request.MinSlots is { } least && least < request.Slots)
        {
            // No pool has them all: the pool that last reported the most room first, so the fill is as large as it can be.
            foreach (var pool in candidates.OrderByDescending(p => Reported(p).AvailableSlots))
            {
                if (await Pool(pool.PoolKey).ReserveAsync(order, partialFill: true) is { } lease) return lease;
            }
        }
        throw await NoneFitsAsync(request, order.Window, candidates, order.Funds);
    }

    public async Task<Quote> QuoteAsync(LeaseRequest request)
    {
        request = LeaseRequestRules.Validate(request, options.Value, clock.GetUtcNow());
        var window = LeaseWindow.From(request.Start ?? clock.GetUtcNow(), TimeSpan.FromHours(request.Hours));
        var candidates = Candidates(request);
        foreach (var pool in candidates)
        {
            var quote = await Pool(pool.PoolKey).QuoteAsync(request.Slots, request.Hours, request.Start, request.MaxPricePerSlotHour);
            if (quote is not null) return quote;
        }
        throw await NoneFitsAsync(request, window, candidates);
    }

    /// <summary>A quote names its pool: the lease goes to that pool at the quoted price, or not at all.</summary>
    private async Task<LeaseSnapshot> ReserveQuotedAsync(LeaseOrder order)
    {
        var request = order.Request;
        ScopedIds.TryParse(request.QuoteId, out _, out var poolKey);
        if (!state.State.Pools.TryGetValue(poolKey, out var pool) || (request.Region is not null && pool.Region != request.Region))
            throw MarketException.Invalid("quoteId", "UnknownQuote", $"No {Kind} pool{(request.Region is null ? "" : $" in {request.Region}")} gave quote '{request.QuoteId}'.");
        return await Pool(poolKey).ReserveAsync(order)
            ?? throw new MarketException(MarketError.Conflict, "NoCapacityInWindow",
                $"Pool {poolKey} no longer has {request.Slots} free slot(s) in the window: a quote fixes the price, it does not hold slots.", "slots");
    }

    /// <summary>
    /// The fast path of <see cref="Candidates"/>: the same pools in the same order, without building the list. Pools are
    /// kept sorted by last reported price (re-sorted only when a price changes); those that last reported room for the
    /// request and a price within it come first, the others after.
    /// </summary>
    private IEnumerable<(string Key, PoolDefinition Pool)> Cheapest(LeaseRequest request)
    {
        var byPrice = ByPrice();
        for (var pass = 0; pass < 2; pass++)
        {
            var promising = pass == 0;
            foreach (var (key, pool) in byPrice)
            {
                if (PoolChoice.Matches(pool, request) && pool.SlotCount >= (request.MinSlots ?? request.Slots) && PoolChoice.Promising(Reported(key, pool), request) == promising)
                    yield return (key, pool);
            }
        }
    }

    /// <summary>Every pool of the directory, cheapest first by last reported price, then by key; rebuilt (never changed in place) when a price or the directory changes.</summary>
    private List<(string Key, PoolDefinition Pool)> ByPrice()
    {
        if (_byPrice is { } sorted) return sorted;
        sorted = state.State.Pools.Select(p => (p.Key, p.Value)).ToList();
        sorted.Sort((a, b) =>
        {
            var price = Reported(a.Key, a.Item2).PricePerSlotHour.CompareTo(Reported(b.Key, b.Item2).PricePerSlotHour);
            return price != 0 ? price : string.CompareOrdinal(a.Key, b.Key);
        });
        return _byPrice = sorted;
    }

    /// <summary>
    /// Counts the slots a request is about to take off the pool's last reported room, before the pool has said so: a
    /// burst of requests then spreads over the pools instead of piling onto the one that looked free. Only a hint; the
    /// pool's next report sets it right. Returns what was reported before.
    /// </summary>
    private PoolStatus Claim(string poolKey, PoolDefinition pool, LeaseRequest request)
    {
        var reported = Reported(poolKey, pool);
        // A block's window says nothing about the room a pool has now.
        if (request.Start is null) _reported[poolKey] = reported with { AvailableSlots = Math.Max(0, reported.AvailableSlots - request.Slots) };
        return reported;
    }

    /// <summary>
    /// The pool had not the room it seemed to have: it has fewer free slots than were asked for, until it reports. A
    /// refusal that its price explains (above the request's cap, or a deposit beyond the tenant's funds) says nothing of its room.
    /// </summary>
    private void Refused(string poolKey, PoolDefinition pool, LeaseOrder order, PoolStatus before)
    {
        var request = order.Request;
        if (request.Start is not null) return;
        var current = Reported(poolKey, pool);
        var room = (request.MaxPricePerSlotHour is { } max && before.PricePerSlotHour > max)
                   || LeaseBilling.AffordableSlots(order.Funds, before.PricePerSlotHour, request.Slots, request.Hours) < request.Slots
            ? before.AvailableSlots
            : Math.Min(before.AvailableSlots, request.Slots - 1);
        _reported[poolKey] = current with { AvailableSlots = Math.Min(current.AvailableSlots + request.Slots, room) };
    }

    /// <summary>
    /// The pools that could take the request, cheapest first by their last reported price, those that last reported
    /// too little room or too high a price at the end. One lease is paid into one escrow for one provider, so one pool fills it.
    /// </summary>
    /// <remarks>On every request's path: one pass and one sort, keyed by the directory's pool keys (a definition builds its key anew).</remarks>
    private List<PoolDefinition> Candidates(LeaseRequest request)
    {
        var inRegion = new List<KeyValuePair<string, PoolDefinition>>();
        foreach (var entry in state.State.Pools)
        {
            if (PoolChoice.Matches(entry.Value, request)) inRegion.Add(entry);
        }
        var fewest = request.MinSlots ?? request.Slots;
        var bigEnough = new List<(string Key, PoolDefinition Pool, bool Promising, Credits Price)>(inRegion.Count);
        foreach (var (key, pool) in inRegion)
        {
            if (pool.SlotCount < fewest) continue;
            var status = Reported(key, pool);
            bigEnough.Add((key, pool, PoolChoice.Promising(status, request), status.PricePerSlotHour));
        }
        if (bigEnough.Count == 0) throw PoolChoice.Unmatched(Kind, state.State.Pools.Values, request)!;

        bigEnough.Sort((a, b) =>
            a.Promising != b.Promising ? (a.Promising ? -1 : 1)
            : a.Price != b.Price ? a.Price.CompareTo(b.Price)
            : string.CompareOrdinal(a.Key, b.Key));
        return bigEnough.ConvertAll(c => c.Pool);
    }

    /// <summary>
    /// Why no candidate took the request, and what would: when a pool has room in the window but asks more than the max
    /// price, the price of the cheapest such pool (it would fill now); when the cheapest within it asks a deposit beyond the
    /// tenant's <paramref name="funds"/>, that deposit; otherwise the nearest start at which a pool within the max price has room.
    /// </summary>
    private async Task<MarketException> NoneFitsAsync(LeaseRequest request, LeaseWindow window, List<PoolDefinition> candidates, Credits? funds = null)
    {
        var fewest = request.MinSlots ?? request.Slots;
        var starts = await Task.WhenAll(candidates.Select(c =>
            Pool(c.PoolKey).EarliestStartAsync(fewest, window.Duration, window.Start)));
        var pools = candidates.Select((c, i) => (Price: Reported(c).PricePerSlotHour, Start: starts[i])).ToList();

        var max = request.MaxPricePerSlotHour;
        var roomInWindow = pools.Where(p => p.Start is { } start && start <= window.Start).ToList();
        if (max is { } cap && roomInWindow.Count > 0 && roomInWindow.Min(p => p.Price) is var wouldFill && wouldFill > cap)
            return AboveMaxPrice(request, wouldFill, cap);
        var withinCap = roomInWindow.Where(p => max is not { } limit || p.Price <= limit).ToList();
        if (funds is { } held && withinCap.Count > 0 && withinCap.Min(p => p.Price) is var cheapest
            && LeaseBilling.AffordableSlots(held, cheapest, fewest, request.Hours) < fewest)
            return PoolChoice.Unaffordable(cheapest, fewest, request.Hours, held, $"the cheapest {Kind} pool{PoolChoice.Scope(request)} with room");

        var later = pools.Where(p => p.Start > window.Start).OrderBy(p => p.Start).ThenBy(p => p.Price).ToList();
        var hint = later.FirstOrDefault(p => max is not { } limit || p.Price <= limit) is { Start: { } start }
            ? $"; the nearest start with room is {start.UtcDateTime:yyyy-MM-dd HH:mm:ss'Z'} (--start)"
            : later.FirstOrDefault() is { Start: { } dearStart, Price: var price }
                ? $"; the nearest start with room is {dearStart.UtcDateTime:yyyy-MM-dd HH:mm:ss'Z'} (--start), at {price} per slot-hour (above the max price)"
                : "";
        return new MarketException(MarketError.Conflict, "NoCapacityInWindow",
            $"No {Kind} pool{PoolChoice.Scope(request)} has {(fewest < request.Slots ? $"{fewest} to {request.Slots}" : request.Slots)} free slot(s) from {window.Start.UtcDateTime:yyyy-MM-dd HH:mm:ss'Z'} for {request.Hours} h" +
            $"{(max is null ? "" : " at or below the max price")}{hint}.", "slots");
    }

    private MarketException AboveMaxPrice(LeaseRequest request, Credits cheapest, Credits max)
    {
        var profile = AcceleratorCatalog.Require(Kind);
        if (request.MaxPricePerMillionTokens is { } perMillion && LeaseRequestRules.PerSlotHour(perMillion, profile) == max)
        {
            var wouldFill = profile.PricePerMillionTokens(cheapest);
            return new MarketException(MarketError.Conflict, "AboveMaxPrice",
                $"The cheapest {Kind} pool asks {wouldFill} per 1M tokens ({cheapest} per slot-hour), above the max price per 1M tokens {perMillion}; " +
                $"a max price per 1M tokens of {wouldFill} would fill now.", "maxPricePerMillionTokens");
        }
        return new MarketException(MarketError.Conflict, "AboveMaxPrice",
            $"The cheapest {Kind} pool asks {cheapest} per slot-hour, above the max price {max}; a max price of {cheapest} would fill now.",
            "maxPricePerSlotHour");
    }

    public ValueTask<MarketSnapshot> GetAsync() =>
        ValueTask.FromResult(new MarketSnapshot(Kind,
            state.State.Pools.Values.OrderBy(p => p.PoolKey, StringComparer.Ordinal).ToList(),
            _reported.Values.OrderBy(p => p.PoolKey, StringComparer.Ordinal).ToList()));

    private IPoolGrain Pool(string poolKey)
    {
        if (!_pools.TryGetValue(poolKey, out var pool)) _pools[poolKey] = pool = GrainFactory.GetGrain<IPoolGrain>(poolKey);
        return pool;
    }

    private PoolStatus Reported(PoolDefinition pool) => Reported(pool.PoolKey, pool);

    private PoolStatus Reported(string poolKey, PoolDefinition pool) =>
        _reported.TryGetValue(poolKey, out var status) ? status : PoolChoice.Unreported(pool);
}
