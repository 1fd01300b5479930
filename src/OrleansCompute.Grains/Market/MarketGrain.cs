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
/// The market for one kind. It keeps only the directory of pools and asks them; the pools decide.
/// Reentrant, so quotes and reservations for different pools do not wait for each other here:
/// the only state it changes is the directory, and only in <see cref="RegisterPoolAsync"/>.
/// </summary>
[Reentrant]
public sealed class MarketGrain(
    [PersistentState("market", GrainStorage.Market)] IPersistentState<MarketState> state) : Grain, IMarketGrain
{
    private string Kind => this.GetPrimaryKeyString();

    public async Task RegisterPoolAsync(PoolDefinition pool)
    {
        if (state.State.Pools.TryGetValue(pool.PoolKey, out var known) && known == pool) return;
        state.State.Pools[pool.PoolKey] = pool;
        await state.WriteStateAsync();
    }

    public async Task<IReadOnlyList<Offer>> GetOffersAsync(string? region)
    {
        if (!AcceleratorCatalog.TryGet(Kind, out var profile)) return [];
        var pools = state.State.Pools.Values.Where(p => region is null || p.Region == region).ToList();
        var snapshots = await Task.WhenAll(pools.Select(p => GrainFactory.GetGrain<IPoolGrain>(p.PoolKey).GetAsync().AsTask()));
        return snapshots
            .Where(s => s.Definition is not null)
            .Select(s => new Offer(s.Key, s.Definition!.ProviderId, s.Definition.Kind, s.Definition.Region,
                s.AvailableSlots, s.Definition.SlotCount, s.Definition.PricePerSlotHour,
                profile.PricePerMillionTokens(s.Definition.PricePerSlotHour), profile.EnergyWhPerMillionTokens, profile))
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

        var affordable = bigEnough
            .Where(p => request.MaxPricePerSlotHour is not { } max || p.PricePerSlotHour <= max)
            .OrderBy(p => p.PricePerSlotHour).ThenBy(p => p.PoolKey, StringComparer.Ordinal)
            .ToList();
        if (affordable.Count == 0)
            throw new MarketException(MarketError.Conflict, "AboveMaxPrice",
                $"The cheapest {Kind} pool asks {bigEnough.Min(p => p.PricePerSlotHour)} per slot-hour, above the max price {request.MaxPricePerSlotHour}.", "maxPricePerSlotHour");

        foreach (var pool in affordable)
        {
            var reservation = await GrainFactory.GetGrain<IPoolGrain>(pool.PoolKey).ReserveAsync(leaseId, request.Slots, holdUntil);
            if (reservation is not null) return reservation;
        }

        throw new MarketException(MarketError.Conflict, "NoCapacity",
            $"No {Kind} pool has {request.Slots} free slot(s) now{(request.MaxPricePerSlotHour is null ? "" : " at or below the max price")}.", "slots");
    }

    public ValueTask<MarketSnapshot> GetAsync() =>
        ValueTask.FromResult(new MarketSnapshot(Kind, state.State.Pools.Values.OrderBy(p => p.PoolKey, StringComparer.Ordinal).ToList()));
}
