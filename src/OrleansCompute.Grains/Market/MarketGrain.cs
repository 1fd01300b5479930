using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Catalog;
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
    [PersistentState("market", GrainStorage.Market)] IPersistentState<MarketState> state) : Grain, IMarketGrain
{
    private readonly Dictionary<string, PoolStatus> _reported = [];

    private string Kind => this.GetPrimaryKeyString();

    public async Task RegisterPoolAsync(PoolDefinition pool, PoolStatus status)
    {
        _reported[pool.PoolKey] = status;
        if (state.State.Pools.TryGetValue(pool.PoolKey, out var known) && known == pool) return;
        state.State.Pools[pool.PoolKey] = pool;
        await state.WriteStateAsync();
    }

    public Task ReportAsync(PoolStatus status)
    {
        _reported[status.PoolKey] = status;
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<Offer>> GetOffersAsync(string? region)
    {
        if (!AcceleratorCatalog.TryGet(Kind, out var profile)) return [];
        var pools = state.State.Pools.Values.Where(p => region is null || p.Region == region).ToList();
        var snapshots = await Task.WhenAll(pools.Select(p => GrainFactory.GetGrain<IPoolGrain>(p.PoolKey).GetAsync().AsTask()));
        foreach (var s in snapshots) _reported[s.Key] = new PoolStatus(s.Key, s.PricePerSlotHour, s.AvailableSlots);
        return snapshots
            .Where(s => s.Definition is not null)
            .Select(s => new Offer(s.Key, s.Definition!.ProviderId, s.Definition.Kind, s.Definition.Region,
                s.AvailableSlots, s.Definition.SlotCount, s.PricePerSlotHour,
                profile.PricePerMillionTokens(s.PricePerSlotHour), profile.EnergyWhPerMillionTokens, profile))
            .OrderBy(o => o.PricePerSlotHour).ThenBy(o => o.PoolKey, StringComparer.Ordinal)
            .ToList();
    }

    public async Task<PoolReservation> ReserveAsync(Guid leaseId, LeaseRequest request, DateTimeOffset holdUntil)
    {
        // One lease is paid into one escrow for one provider, so a request is filled by a single pool.
        var inRegion = state.State.Pools.Values.Where(p => request.Region is null || p.Region == request.Region).ToList();
        if (inRegion.Count == 0)
            throw request.Region is null
                ? new MarketException(MarketError.Conflict, "NoCapacity", $"No provider offers {Kind} yet.", "kind")
                : MarketException.Invalid("region", "UnknownRegion",
                    $"No {Kind} pool in region '{request.Region}'; regions with {Kind}: {string.Join(", ", state.State.Pools.Values.Select(p => p.Region).Distinct().Order())}.");

        var bigEnough = inRegion.Where(p => p.SlotCount >= request.Slots).ToList();
        if (bigEnough.Count == 0)
            throw MarketException.Invalid("slots", "MoreSlotsThanExist",
                $"The largest {Kind} pool has {inRegion.Max(p => p.SlotCount)} slots; {request.Slots} were asked for.");

        // Cheapest first by the last reported price; pools that reported too little room or too high a price last.
        var candidates = bigEnough
            .Select(p => (Pool: p, Status: Reported(p)))
            .OrderBy(c => Promising(c.Status, request) ? 0 : 1)
            .ThenBy(c => c.Status.PricePerSlotHour).ThenBy(c => c.Pool.PoolKey, StringComparer.Ordinal)
            .ToList();
        foreach (var (pool, _) in candidates)
        {
            var reservation = await GrainFactory.GetGrain<IPoolGrain>(pool.PoolKey)
                .ReserveAsync(leaseId, request.Slots, holdUntil, request.MaxPricePerSlotHour);
            if (reservation is not null) return reservation;
        }

        var cheapest = candidates.Min(c => Reported(c.Pool).PricePerSlotHour);
        if (request.MaxPricePerSlotHour is { } max && cheapest > max)
            throw new MarketException(MarketError.Conflict, "AboveMaxPrice",
                $"The cheapest {Kind} pool asks {cheapest} per slot-hour, above the max price {max}; a max price of {cheapest} would fill now.",
                "maxPricePerSlotHour");
        throw new MarketException(MarketError.Conflict, "NoCapacity",
            $"No {Kind} pool has {request.Slots} free slot(s) now{(request.MaxPricePerSlotHour is null ? "" : " at or below the max price")}.", "slots");
    }

    public ValueTask<MarketSnapshot> GetAsync() =>
        ValueTask.FromResult(new MarketSnapshot(Kind,
            state.State.Pools.Values.OrderBy(p => p.PoolKey, StringComparer.Ordinal).ToList(),
            _reported.Values.OrderBy(p => p.PoolKey, StringComparer.Ordinal).ToList()));

    private PoolStatus Reported(PoolDefinition pool) =>
        _reported.TryGetValue(pool.PoolKey, out var status) ? status : new PoolStatus(pool.PoolKey, pool.FloorPricePerSlotHour, pool.SlotCount);

    private static bool Promising(PoolStatus status, LeaseRequest request) =>
        status.AvailableSlots >= request.Slots && (request.MaxPricePerSlotHour is not { } max || status.PricePerSlotHour <= max);
}
