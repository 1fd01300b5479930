using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Abstractions.Market;

/// <summary>Where a new lease is asked for: a kind's requests at its market, requests for any kind at the lease desk.</summary>
public static class LeaseRequests
{
    /// <summary>
    /// The one way in for a new lease: reserves it for <paramref name="tenant"/> (an address the caller verified) and returns
    /// it, Reserved and waiting for its escrow; or throws a <see cref="MarketException"/> that says why not, changing nothing.
    /// With <paramref name="funds"/>, what the tenant holds on chain (see <see cref="LeaseOrder.Funds"/>), only a deposit it can pay.
    /// </summary>
    public static Task<LeaseSnapshot> RequestLeaseAsync(this IGrainFactory grains, string tenant, LeaseRequest request, Credits? funds = null) =>
        AsksForAnyKind(request)
            ? grains.GetGrain<ILeaseDeskGrain>(0).RequestAsync(tenant, request, funds)
            : GrainReferences.Get<IMarketGrain>(grains, MarketKeys.Market(request.Kind)).RequestAsync(tenant, request, funds);

    /// <summary>Whether the request names no kind of its own (<c>any</c>, or none: the lease desk says what is wrong with that).</summary>
    public static bool AsksForAnyKind(LeaseRequest request) =>
        string.IsNullOrWhiteSpace(request.Kind) || string.Equals(request.Kind, LeaseRequest.AnyKind, StringComparison.OrdinalIgnoreCase);
}
