using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// Takes requests for any kind that meets a constraint ("at least 150 GiB") and tries each kind's market, cheapest per
/// token first. A stateless worker: every silo answers them locally. Requests for one kind go to its market directly
/// (<see cref="LeaseRequests.RequestLeaseAsync"/>).
/// </summary>
public interface ILeaseDeskGrain : IGrainWithIntegerKey
{
    Task<LeaseSnapshot> RequestAsync(string tenant, LeaseRequest request, Credits? funds = null);
}
