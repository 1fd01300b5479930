using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// Takes requests for any kind that meets a constraint ("at least 150 GiB") and tries each kind's market, cheapest per
/// token first. A stateless worker: every silo answers them locally. Requests for one kind go to its market directly
/// (<see cref="LeaseRequests.RequestLeaseAsync"/>).
/// </summary>
public interface ILeaseDeskGrain : IGrainWithIntegerKey
{
    Task<LeaseSnapshot> RequestAsync(string tenant, LeaseRequest request);
}

public static class LeaseRequests
{
    /// <summary>
    /// The one way in for a new lease: reserves it for <paramref name="tenant"/> (an address the caller verified) and returns
    /// it, Reserved and waiting for its escrow; or throws a <see cref="MarketException"/> that says why not, changing nothing.
    /// </summary>
    public static Task<LeaseSnapshot> RequestLeaseAsync(this IGrainFactory grains, string tenant, LeaseRequest request) =>
        string.Equals(request.Kind, LeaseRequest.AnyKind, StringComparison.OrdinalIgnoreCase) || string.IsNullOrWhiteSpace(request.Kind)
            ? grains.GetGrain<ILeaseDeskGrain>(0).RequestAsync(tenant, request)
            : GrainReferences.Get<IMarketGrain>(grains, MarketKeys.Market(request.Kind)).RequestAsync(tenant, request);
}
