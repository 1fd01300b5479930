using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

/// <summary>Turns a request into the order pools book: the window to hold and until when.</summary>
internal static class LeaseOrders
{
    /// <summary>The request checked (<see cref="LeaseRequestRules.Validate"/>) and made an order; throws and changes nothing when it is bad.</summary>
    /// <param name="funds">What the tenant can pay a deposit from, when the host read it (<see cref="LeaseOrder.Funds"/>).</param>
    public static LeaseOrder Validated(string tenant, LeaseRequest request, MarketOptions options, DateTimeOffset now, Credits? funds = null) =>
        For(tenant, LeaseRequestRules.Validate(request, options, now), options, now) with { Funds = funds };

    private static LeaseOrder For(string tenant, LeaseRequest validated, MarketOptions options, DateTimeOffset now)
    {
        if (!AccountKeys.IsAddress(tenant))
            throw MarketException.Invalid("tenant", "MalformedAddress", $"'{tenant}' is not an Ethereum address.");
        var fundBy = now + options.FundingWindow;
        var duration = TimeSpan.FromHours(validated.Hours);
        var startsAt = validated.Start > now ? validated.Start : null;
        // A reserved block books exactly its window; a lease that starts when funded books room for the funding delay too.
        var window = startsAt is { } start ? LeaseWindow.From(start, duration) : new LeaseWindow(now, fundBy + duration);
        return new LeaseOrder(AccountKeys.Normalize(tenant), validated, window, fundBy, startsAt, now);
    }
}
