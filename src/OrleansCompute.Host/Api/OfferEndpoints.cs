using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Host.Api;

public static class OfferEndpoints
{
    public static IEndpointRouteBuilder MapOfferEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/offers", GetOffersAsync)
            .WithTags("Market")
            .WithSummary("What can be leased now, cheapest first, with price per hour, per 1M tokens and energy per 1M tokens.");
        app.MapGet("/api/catalog", () => AcceleratorCatalog.All)
            .WithTags("Market")
            .WithSummary("The accelerator profiles the market knows.");
        return app;
    }

    private static async Task<IReadOnlyList<Offer>> GetOffersAsync(IGrainFactory grains, string? kind = null, string? region = null)
    {
        IEnumerable<AcceleratorProfile> kinds = AcceleratorCatalog.All;
        if (kind is not null)
        {
            if (!AcceleratorCatalog.TryGet(kind, out var profile))
                throw MarketException.Invalid("kind", "UnknownKind", $"Unknown accelerator kind '{kind}'; known: {AcceleratorCatalog.KnownKinds}.");
            kinds = [profile];
        }

        var offers = await Task.WhenAll(kinds.Select(p => grains.GetGrain<IMarketGrain>(MarketKeys.Market(p.Kind)).GetOffersAsync(region)));
        return offers.SelectMany(o => o).OrderBy(o => o.PricePerSlotHour).ThenBy(o => o.PoolKey, StringComparer.Ordinal).ToList();
    }
}
