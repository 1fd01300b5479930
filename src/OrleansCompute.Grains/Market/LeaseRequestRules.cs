using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

/// <summary>What makes a lease request well-formed, checked before any slot is asked; the same for leases, quotes and orders.</summary>
public static class LeaseRequestRules
{
    /// <summary>A start this little in the past is a clock difference between client and host, taken as "now".</summary>
    public static readonly TimeSpan StartTolerance = TimeSpan.FromMinutes(1);

    /// <returns>
    /// The request with its kind in the catalog's spelling and its price caps folded into <see cref="LeaseRequest.MaxPricePerSlotHour"/>;
    /// for <c>any</c> kind, the request unchanged (see <see cref="KindsFor"/> and <see cref="ForKind"/>).
    /// </returns>
    public static LeaseRequest Validate(LeaseRequest request, MarketOptions options, DateTimeOffset now)
    {
        if (request.Slots < 1 || request.Slots > options.MaxSlotsPerLease)
            throw MarketException.Invalid("slots", "OutOfRange", $"Slots must be 1 to {options.MaxSlotsPerLease}; got {request.Slots}.");
        if (request.MinSlots is { } least && (least < 1 || least > request.Slots))
            throw MarketException.Invalid("minSlots", "OutOfRange", $"A partial fill's minimum must be 1 to the {request.Slots} slot(s) asked for; got {least}.");
        if (request.MinSlots is not null && request.QuoteId is not null)
            throw MarketException.Invalid("minSlots", "ContradictoryConstraints", "A quote is for an exact number of slots; ask for a partial fill without a quote.");
        if (request.Hours < 1 || request.Hours > options.MaxHours)
            throw MarketException.Invalid("hours", "OutOfRange", $"Hours must be 1 to {options.MaxHours}; got {request.Hours}.");
        if (request.Region is not null && !MarketKeys.IsValidName(request.Region))
            throw MarketException.Invalid("region", "InvalidName", $"'{request.Region}' is not a region name (lowercase letters, digits, dashes).");
        if (request.MaxPricePerSlotHour is { } max && max <= Credits.Zero)
            throw MarketException.Invalid("maxPricePerSlotHour", "OutOfRange", $"The max price must be above zero; got {max}.");
        if (request.MaxPricePerMillionTokens is { } maxPerToken && maxPerToken <= Credits.Zero)
            throw MarketException.Invalid("maxPricePerMillionTokens", "OutOfRange", $"The max price per 1M tokens must be above zero; got {maxPerToken}.");
        if (request.VoucherEvery is { } every && every <= Credits.Zero)
            throw MarketException.Invalid("voucherEvery", "OutOfRange", $"The voucher threshold must be above zero; got {every}.");
        if (request.MinMemoryGiB is < 1)
            throw MarketException.Invalid("minMemoryGiB", "OutOfRange", "The minimum memory must be at least 1 GiB.");
        if (request.MinTokensPerSecond is < 1)
            throw MarketException.Invalid("minTokensPerSecond", "OutOfRange", "The minimum throughput must be at least 1 token/s.");
        RequireProviderIds("providers", request.Providers);
        RequireProviderIds("excludeProviders", request.ExcludeProviders);
        if (request.Providers?.Intersect(request.ExcludeProviders ?? []).FirstOrDefault() is { } both)
            throw MarketException.Invalid("providers", "ContradictoryConstraints", $"Provider '{both}' is both allowed and excluded.");
        if (request.QuoteId is not null && !ScopedIds.TryParse(request.QuoteId, out _, out _))
            throw MarketException.Invalid("quoteId", "MalformedQuoteId", $"'{request.QuoteId}' is not a quote id (from POST /api/quotes or occ quote).");
        if (request.Start is { } start && start < now - StartTolerance)
            throw MarketException.Invalid("start", "StartInPast", $"The window starts at {start:O}, in the past; leave the start out to start now.");
        if (request.Start is { } late && late > now + options.MaxAdvance)
            throw MarketException.Invalid("start", "StartTooFarAhead", $"Windows can be booked at most {options.MaxAdvance.TotalDays:0} days ahead.");

        if (string.Equals(request.Kind, LeaseRequest.AnyKind, StringComparison.OrdinalIgnoreCase))
        {
            if (request.QuoteId is not null)
                throw MarketException.Invalid("quoteId", "QuoteNeedsKind", "A quote is for one kind; name the kind it was given for.");
            if (KindsFor(request).Count == 0)
                throw MarketException.Invalid(request.MinMemoryGiB is null ? "minTokensPerSecond" : "minMemoryGiB", "NoKindFits",
                    $"No accelerator kind has {Constraints(request)}; known: {string.Join(", ", AcceleratorCatalog.All.Select(p => $"{p.Kind} ({p.MemoryGiB} GiB, {p.TokensPerSecond} tokens/s)"))}.");
            return request with { Kind = LeaseRequest.AnyKind };
        }

        if (!AcceleratorCatalog.TryGet(request.Kind, out var profile))
            throw MarketException.Invalid("kind", "UnknownKind", $"Unknown accelerator kind '{request.Kind}'; known: {AcceleratorCatalog.KnownKinds}, or any.");
        if (!Meets(profile, request))
            throw MarketException.Invalid(request.MinMemoryGiB > profile.MemoryGiB ? "minMemoryGiB" : "minTokensPerSecond", "KindBelowConstraints",
                $"{profile.Name} has {profile.MemoryGiB} GiB and {profile.TokensPerSecond} tokens/s, not {Constraints(request)}.");
        return ForKind(request, profile);
    }

    /// <summary>Provider lists name providers by id; an entry that cannot be one (null, empty, a typo in case) would silently match nothing.</summary>
    private static void RequireProviderIds(string field, IReadOnlyList<string>? providers)
    {
        foreach (var provider in providers ?? [])
            if (!MarketKeys.IsValidName(provider))
                throw MarketException.Invalid(field, "InvalidName",
                    $"{(provider is null ? "null" : $"'{provider}'")} is not a provider id (lowercase letters, digits, dashes).");
    }

    /// <summary>The kinds that meet the request's constraints, cheapest per token at list price first.</summary>
    public static IReadOnlyList<AcceleratorProfile> KindsFor(LeaseRequest request) =>
        AcceleratorCatalog.All.Where(p => Meets(p, request))
            .OrderBy(p => p.PricePerMillionTokens(p.ListPricePerHour)).ThenBy(p => p.Kind, StringComparer.Ordinal).ToList();

    /// <summary>The request for one kind, its max price per 1M tokens turned into a max price per slot-hour for that kind.</summary>
    public static LeaseRequest ForKind(LeaseRequest request, AcceleratorProfile profile)
    {
        var max = request.MaxPricePerSlotHour;
        if (request.MaxPricePerMillionTokens is { } perMillion)
        {
            var perHour = PerSlotHour(perMillion, profile);
            if (perHour <= Credits.Zero)
                throw MarketException.Invalid("maxPricePerMillionTokens", "OutOfRange", $"{perMillion} per 1M tokens buys less than a unit of {profile.Name} time.");
            max = max is { } hourly && hourly < perHour ? hourly : perHour;
        }
        // Most requests already name the kind as the catalog spells it and set no price per token: nothing to change.
        return request.Kind == profile.Kind && request.MaxPricePerSlotHour == max ? request : request with { Kind = profile.Kind, MaxPricePerSlotHour = max };
    }

    /// <summary>
    /// What a max price per 1M tokens allows per slot-hour of <paramref name="profile"/>'s kind, rounded down to the unit. A cap
    /// so high that the price per hour it allows is beyond what an amount can hold caps nothing: it is the most an amount can be.
    /// </summary>
    public static Credits PerSlotHour(Credits maxPricePerMillionTokens, AcceleratorProfile profile)
    {
        var units = maxPricePerMillionTokens.Units * (decimal)profile.TokensPerSecond * 3600 / 1_000_000m;
        return Credits.FromUnits(units >= long.MaxValue ? long.MaxValue : (long)units);
    }

    private static bool Meets(AcceleratorProfile profile, LeaseRequest request) =>
        profile.MemoryGiB >= (request.MinMemoryGiB ?? 0) && profile.TokensPerSecond >= (request.MinTokensPerSecond ?? 0);

    private static string Constraints(LeaseRequest request) =>
        string.Join(" and ", new[]
        {
            request.MinMemoryGiB is { } memory ? $"at least {memory} GiB" : null,
            request.MinTokensPerSecond is { } tokens ? $"at least {tokens} tokens/s" : null,
        }.OfType<string>().DefaultIfEmpty("no constraint"));
}
