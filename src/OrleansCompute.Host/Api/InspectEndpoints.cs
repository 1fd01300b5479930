using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Orders;
using OrleansCompute.Abstractions.Settlement;

using OrleansCompute.Grains.Leases;

namespace OrleansCompute.Host.Api;

/// <summary>Any grain's state as the grain holds it, by kind and key.</summary>
public static class InspectEndpoints
{
    public static readonly string[] Kinds = ["slot", "pool", "market", "orders", "lease", "account", "settlement", "provider"];

    public static IEndpointRouteBuilder MapInspectEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/inspect/active", ActiveAsync)
            .WithTags("Inspect")
            .WithSummary("Which grains are active, per grain type and silo, with a sample of their keys.");
        // Pool and slot keys contain slashes (provider/pool/index), hence the catch-all.
        app.MapGet("/api/inspect/{kind}/{**key}", InspectAsync)
            .WithTags("Inspect")
            .WithSummary("A grain's state: kind is slot, pool, market, orders (an order book, by kind), lease, account, settlement (by payout address or provider id) or provider (by provider id).");
        return app;
    }

    private static async Task<object> InspectAsync(string kind, string key, IGrainFactory grains, LeaseDirectory leases) => kind switch
    {
        "slot" => await grains.GetGrain<ISlotGrain>(await KnownSlotAsync(grains, key)).GetAsync(),
        "pool" => await KnownPoolAsync(grains, key),
        "market" => await grains.GetGrain<IMarketGrain>(MarketKeys.Market(AcceleratorCatalog.Require(key).Kind)).GetAsync(),
        "orders" => await grains.GetGrain<IOrderBookGrain>(MarketKeys.Market(AcceleratorCatalog.Require(key).Kind)).ListAsync(),
        "lease" => await leases.GetAsync(Problems.ParseLeaseId(key))
                   ?? throw new MarketException(MarketError.NotFound, "UnknownLease", $"No lease '{key}'."),
        "account" => await grains.GetGrain<IAccountGrain>(Address(key)).GetAsync(),
        "settlement" => await grains.GetGrain<ISettlementGrain>(await PayoutAddressAsync(grains, key)).GetAsync(),
        "provider" => await KnownProviderAsync(grains, key),
        _ => throw MarketException.Invalid("kind", "UnknownGrainKind", $"Cannot inspect '{kind}'; kinds: {string.Join(", ", Kinds)}."),
    };

    private static async Task<IReadOnlyList<ActiveGrains>> ActiveAsync(IGrainFactory grains, int sample = 20)
    {
        var statistics = await grains.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        return statistics
            .Where(s => s.GrainType.StartsWith("OrleansCompute.", StringComparison.Ordinal))
            // In the form /api/chain names the watching silo (and the membership table every silo), so they can be matched.
            .GroupBy(s => (Type: s.GrainType, Silo: s.SiloAddress.ToParsableString()))
            .Select(g => new ActiveGrains(ShortName(g.Key.Type), g.Key.Silo, g.Count(),
                g.Select(s => s.GrainId.Key.ToString()!).Order(StringComparer.Ordinal).Take(sample).ToList()))
            .OrderBy(a => a.GrainType, StringComparer.Ordinal).ThenBy(a => a.Silo, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>"OrleansCompute.Grains.Market.PoolGrain,OrleansCompute.Grains" → "PoolGrain".</summary>
    private static string ShortName(string grainType)
    {
        var type = grainType.Split(',')[0];
        return type[(type.LastIndexOf('.') + 1)..];
    }

    // A grain exists for any key; inspecting one that the market never defined would show made-up state, so the pool
    // must be defined and the slot within it.
    private static async Task<PoolSnapshot> KnownPoolAsync(IGrainFactory grains, string poolKey)
    {
        var pool = await grains.GetGrain<IPoolGrain>(poolKey).GetAsync();
        return pool.Definition is null
            ? throw new MarketException(MarketError.NotFound, "UnknownPool", $"No pool '{poolKey}'; `occ offers` lists the pools.")
            : pool;
    }

    private static async Task<ProviderSnapshot> KnownProviderAsync(IGrainFactory grains, string providerId)
    {
        var provider = await grains.GetGrain<IProviderGrain>(providerId).GetAsync();
        return provider.PayoutAddress is null
            ? throw new MarketException(MarketError.NotFound, "UnknownProvider", $"No provider '{providerId}' has added a pool; `occ offers` lists the providers.")
            : provider;
    }

    private static async Task<string> KnownSlotAsync(IGrainFactory grains, string key)
    {
        var (poolKey, index) = MarketKeys.ParseSlot(key);
        var slots = (await KnownPoolAsync(grains, poolKey)).Definition!.SlotCount;
        if (index < 0 || index >= slots)
            throw new MarketException(MarketError.NotFound, "UnknownSlot", $"Pool '{poolKey}' has slots 0 to {slots - 1}; no slot {index}.", "index");
        return key;
    }

    /// <summary>A provider's settlement queue is keyed by its payout address; a provider id (as offers name it) finds that address.</summary>
    private static async Task<string> PayoutAddressAsync(IGrainFactory grains, string key) =>
        key.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? Address(key)
            : AccountKeys.Normalize((await KnownProviderAsync(grains, key)).PayoutAddress!);

    private static string Address(string key) =>
        AccountKeys.IsAddress(key)
            ? AccountKeys.Normalize(key)
            : throw MarketException.Invalid("key", "MalformedAddress", $"'{key}' is not an Ethereum address.");
}

/// <summary>How many grains of one type are active on one silo, with some of their keys.</summary>
public sealed record ActiveGrains(string GrainType, string Silo, int Count, IReadOnlyList<string> SampleKeys);
