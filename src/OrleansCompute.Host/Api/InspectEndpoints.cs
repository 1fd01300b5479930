using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Orders;
using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Host.Api;

/// <summary>Any grain's state as the grain holds it, by kind and key.</summary>
public static class InspectEndpoints
{
    public static readonly string[] Kinds = ["slot", "pool", "market", "orders", "lease", "account", "settlement"];

    public static IEndpointRouteBuilder MapInspectEndpoints(this IEndpointRouteBuilder app)
    {
        // Pool and slot keys contain slashes (provider/pool/index), hence the catch-all.
        app.MapGet("/api/inspect/{kind}/{**key}", InspectAsync)
            .WithTags("Inspect")
            .WithSummary("A grain's state: kind is slot, pool, market, orders (an order book, by kind), lease, account or settlement.");
        return app;
    }

    private static async Task<object> InspectAsync(string kind, string key, IGrainFactory grains) => kind switch
    {
        "slot" => await grains.GetGrain<ISlotGrain>(SlotKey(key)).GetAsync(),
        "pool" => await grains.GetGrain<IPoolGrain>(key).GetAsync(),
        "market" => await grains.GetGrain<IMarketGrain>(MarketKeys.Market(key)).GetAsync(),
        "orders" => await grains.GetGrain<IOrderBookGrain>(MarketKeys.Market(Problems.Kind(key).Kind)).ListAsync(),
        "lease" => await grains.GetGrain<ILeaseGrain>(Problems.ParseLeaseId(key)).GetAsync()
                   ?? throw new MarketException(MarketError.NotFound, "UnknownLease", $"No lease '{key}'."),
        "account" => await grains.GetGrain<IAccountGrain>(Address(key)).GetAsync(),
        "settlement" => await grains.GetGrain<ISettlementGrain>(Address(key)).GetAsync(),
        _ => throw MarketException.Invalid("kind", "UnknownGrainKind", $"Cannot inspect '{kind}'; kinds: {string.Join(", ", Kinds)}."),
    };

    private static string SlotKey(string key)
    {
        MarketKeys.ParseSlot(key);
        return key;
    }

    private static string Address(string key) =>
        AccountKeys.IsAddress(key)
            ? AccountKeys.Normalize(key)
            : throw MarketException.Invalid("key", "MalformedAddress", $"'{key}' is not an Ethereum address.");
}
