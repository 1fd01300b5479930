using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Host.Api.OpenApi;

namespace OrleansCompute.Host.Api;

public static class OfferEndpoints
{
    public static IEndpointRouteBuilder MapOfferEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/offers", GetOffersAsync)
            .WithTags("Market")
            .WithSummary("What can be leased now with price per hour, per 1M tokens and energy per 1M tokens; sort=price (default), cost-per-token or energy.");
        app.MapPost("/api/quotes", QuoteAsync)
            .WithTags("Market")
            .WithSummary("A price for the request that holds until the quote expires; lease with its id to pay exactly that.");
        app.MapGet("/api/catalog", () => AcceleratorCatalog.All)
            .WithTags("Market")
            .AnswersWithoutTheCluster()
            .WithSummary("The accelerator profiles the market knows.");
        return app;
    }

    /// <summary>The orders offers can be listed in; cheapest per slot-hour by default.</summary>
    public static readonly IReadOnlyDictionary<string, Func<Offer, decimal>> SortKeys = new Dictionary<string, Func<Offer, decimal>>
    {
        ["price"] = o => o.PricePerSlotHour.Units,
        ["cost-per-token"] = o => o.PricePerMillionTokens.Units,
        ["energy"] = o => o.EnergyWhPerMillionTokens,
    };

    private static Task<Quote> QuoteAsync(LeaseRequest request, IGrainFactory grains) =>
        grains.GetGrain<IMarketGrain>(MarketKeys.Market(AcceleratorCatalog.Require(request.Kind).Kind)).QuoteAsync(request);

    private static async Task<IReadOnlyList<Offer>> GetOffersAsync(IGrainFactory grains, string? kind = null, string? region = null, string? sort = null)
    {
        sort ??= "price";
        if (!SortKeys.TryGetValue(sort, out var sortKey))
            throw MarketException.Invalid("sort", "UnknownSort", $"Offers sort by {string.Join(", ", SortKeys.Keys)}; not '{sort}'.");

        // Region names are matched exactly, as a lease request matches them: a misspelt case is refused, not an empty list.
        if (region is not null && !MarketKeys.IsValidName(region))
            throw MarketException.Invalid("region", "InvalidName", $"'{region}' is not a region name (lowercase letters, digits, dashes).");

        IEnumerable<AcceleratorProfile> kinds = AcceleratorCatalog.All;
        if (kind is not null) kinds = [AcceleratorCatalog.Require(kind)];

        var offers = (await Task.WhenAll(kinds.Select(p => grains.GetGrain<IMarketGrain>(MarketKeys.Market(p.Kind)).GetOffersAsync(region))))
            .SelectMany(o => o).OrderBy(sortKey).ThenBy(o => o.PoolKey, StringComparer.Ordinal).ToList();
        if (offers.Count == 0 && region is not null) await RequireKnownRegionAsync(grains, region);
        return offers;
    }

    /// <summary>
    /// A region no pool of any kind is in is a mistake to name, not an empty market: refused with the regions there are.
    /// (A known region without the kind asked for is a true empty answer.)
    /// </summary>
    private static async Task RequireKnownRegionAsync(IGrainFactory grains, string region)
    {
        var everywhere = await Task.WhenAll(AcceleratorCatalog.All.Select(p => grains.GetGrain<IMarketGrain>(MarketKeys.Market(p.Kind)).GetOffersAsync(null)));
        var regions = everywhere.SelectMany(o => o).Select(o => o.Region).Distinct().Order(StringComparer.Ordinal).ToList();
        if (!regions.Contains(region))
            throw MarketException.Invalid("region", "UnknownRegion", $"No pool is in region '{region}'; regions: {string.Join(", ", regions)}.");
    }
}
