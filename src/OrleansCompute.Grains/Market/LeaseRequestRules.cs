using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

/// <summary>What makes a lease request well-formed, checked before any slot is asked; the same for leases and quotes.</summary>
public static class LeaseRequestRules
{
    /// <summary>A start this little in the past is a clock difference between client and host, taken as "now".</summary>
    public static readonly TimeSpan StartTolerance = TimeSpan.FromMinutes(1);

    /// <returns>The request with its kind in the catalog's spelling.</returns>
    public static LeaseRequest Validate(LeaseRequest request, MarketOptions options, DateTimeOffset now)
    {
        if (!AcceleratorCatalog.TryGet(request.Kind, out var profile))
            throw MarketException.Invalid("kind", "UnknownKind", $"Unknown accelerator kind '{request.Kind}'; known: {AcceleratorCatalog.KnownKinds}.");
        if (request.Slots < 1 || request.Slots > options.MaxSlotsPerLease)
            throw MarketException.Invalid("slots", "OutOfRange", $"Slots must be 1 to {options.MaxSlotsPerLease}; got {request.Slots}.");
        if (request.Hours < 1 || request.Hours > options.MaxHours)
            throw MarketException.Invalid("hours", "OutOfRange", $"Hours must be 1 to {options.MaxHours}; got {request.Hours}.");
        if (request.Region is not null && !MarketKeys.IsValidName(request.Region))
            throw MarketException.Invalid("region", "InvalidName", $"'{request.Region}' is not a region name (lowercase letters, digits, dashes).");
        if (request.MaxPricePerSlotHour is { } max && max <= Credits.Zero)
            throw MarketException.Invalid("maxPricePerSlotHour", "OutOfRange", $"The max price must be above zero; got {max}.");
        if (request.QuoteId is not null && !QuoteIds.TryParse(request.QuoteId, out _, out _))
            throw MarketException.Invalid("quoteId", "MalformedQuoteId", $"'{request.QuoteId}' is not a quote id (from POST /api/quotes or occ quote).");
        if (request.Start is { } start && start < now - StartTolerance)
            throw MarketException.Invalid("start", "StartInPast", $"The window starts at {start:O}, in the past; leave --start out to start now.");
        if (request.Start is { } late && late > now + options.MaxAdvance)
            throw MarketException.Invalid("start", "StartTooFarAhead", $"Windows can be booked at most {options.MaxAdvance.TotalDays:0} days ahead.");
        return request with { Kind = profile.Kind };
    }
}
