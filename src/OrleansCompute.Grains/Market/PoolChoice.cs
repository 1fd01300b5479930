using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

/// <summary>Which pools a request may go to and which look worth asking first: one rule for the market and the routers.</summary>
internal static class PoolChoice
{
    /// <summary>The refusal's reason when no provider offers the kind at all.</summary>
    public const string NobodyOffersKind = "NoCapacity";

    /// <summary>In the request's region and allowed by its provider lists.</summary>
    public static bool Matches(PoolDefinition pool, LeaseRequest request) =>
        (request.Region is null || pool.Region == request.Region)
        && (request.Providers is not { Count: > 0 } allowed || allowed.Contains(pool.ProviderId))
        && (request.ExcludeProviders is not { } excluded || !excluded.Contains(pool.ProviderId));

    /// <summary>The pools a request may fill from, as a message names them: " in eu-west-1 of acme or gpu-hub", " other than helios".</summary>
    public static string Scope(LeaseRequest request) =>
        (request.Region is null ? "" : $" in {request.Region}")
        + (request.Providers is { Count: > 0 } allowed ? $" of {string.Join(" or ", allowed)}" : "")
        + (request.ExcludeProviders is { Count: > 0 } excluded ? $" other than {string.Join(" or ", excluded)}" : "");

    /// <summary>
    /// Why none of a kind's <paramref name="pools"/> could take the request even with every slot free, or null when one
    /// could: none in its region (<c>UnknownRegion</c>, bad input), none its provider lists allow, no pool of the kind at
    /// all (conflicts: a provider may yet come), or none with as many slots as it needs (<c>MoreSlotsThanExist</c>, bad
    /// input). Free room and price are not looked at: the market and an order book's placement refuse alike.
    /// </summary>
    public static MarketException? Unmatched(string kind, IReadOnlyCollection<PoolDefinition> pools, LeaseRequest request)
    {
        var fewest = request.MinSlots ?? request.Slots;
        var matching = 0;
        var largest = 0;
        foreach (var pool in pools)
        {
            if (!Matches(pool, request)) continue;
            if (pool.SlotCount >= fewest) return null;
            matching++;
            largest = Math.Max(largest, pool.SlotCount);
        }
        if (matching == 0 && (request.Providers is { Count: > 0 } || request.ExcludeProviders is { Count: > 0 }))
            return new MarketException(MarketError.Conflict, "NoProviderAllowed",
                $"No {kind} pool{(request.Region is null ? "" : $" in {request.Region}")} belongs to a provider the request allows.", "providers");
        if (matching == 0)
            return request.Region is null
                ? new MarketException(MarketError.Conflict, NobodyOffersKind, $"No provider offers {kind} yet.", "kind")
                : MarketException.Invalid("region", "UnknownRegion",
                    $"No {kind} pool in region '{request.Region}'; regions with {kind}: {string.Join(", ", pools.Select(p => p.Region).Distinct().Order())}.");
        return MarketException.Invalid(request.MinSlots is null ? "slots" : "minSlots", "MoreSlotsThanExist",
            $"The largest {kind} pool{Scope(request)} has {largest} slots; {fewest} were asked for (one lease is filled from one pool).");
    }

    /// <summary>
    /// The refusal of a request whose deposit, at the price <paramref name="where"/> asks, the tenant's funds (its wallet and
    /// its escrow balance, as the host read them) do not cover: 402, naming the tenant as the field at fault.
    /// </summary>
    public static MarketException Unaffordable(Credits pricePerSlotHour, int slots, int hours, Credits funds, string where) =>
        new(MarketError.InsufficientFunds, "InsufficientFunds",
            $"The tenant holds {funds} credits in its wallet and escrow balance together; {where} asks {pricePerSlotHour} per slot-hour, " +
            $"a deposit of {LeaseBilling.Deposit(pricePerSlotHour, slots, hours)} for {slots} slot(s) × {hours} h. Nothing was reserved: " +
            "add credits, or ask for fewer slots or hours.", "tenant");

    /// <summary>Last reported room for the request at a price within it.</summary>
    public static bool Promising(PoolStatus status, LeaseRequest request) =>
        status.AvailableSlots >= request.Slots && (request.MaxPricePerSlotHour is not { } max || status.PricePerSlotHour <= max);

    /// <summary>What a pool that has not reported yet is taken to have: every slot free, at its floor price.</summary>
    public static PoolStatus Unreported(PoolDefinition pool) => new(pool.PoolKey, pool.FloorPricePerSlotHour, pool.SlotCount);
}
