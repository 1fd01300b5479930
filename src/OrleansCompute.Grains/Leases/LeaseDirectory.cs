using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Leases;

/// <summary>
/// Finds a lease wherever it is kept: in its pool while it is a reservation nothing else has touched (in the
/// <see cref="ILeaseBook"/>), else in its lease grain. Reading or cancelling a reservation this way activates no grain
/// for it; anything else goes to the lease grain, which takes the lease over from its pool.
/// </summary>
public sealed class LeaseDirectory(IGrainFactory grains, ILeaseBook book)
{
    public async Task<LeaseSnapshot?> GetAsync(Guid leaseId) =>
        await book.FindAsync(leaseId) is { Lease: { } kept } ? kept : await grains.GetGrain<ILeaseGrain>(leaseId).GetAsync();

    /// <summary>Ends the lease for its tenant: a reservation its pool keeps is cancelled there, any other lease by its grain.</summary>
    public async Task<LeaseSnapshot> EndAsync(Guid leaseId, string tenant)
    {
        // The pool answers null when it does not keep the lease (any more): then the lease grain has it.
        if (await book.FindPoolAsync(leaseId) is { } poolKey
            && await GrainReferences.Get<IPoolGrain>(grains, poolKey).CancelAsync(leaseId, tenant) is { } cancelled)
            return cancelled;
        return await grains.GetGrain<ILeaseGrain>(leaseId).EndAsync(tenant);
    }

    /// <summary>The tenant's leases, newest first: those its pools keep and those in lease grains.</summary>
    public async Task<IReadOnlyList<LeaseSnapshot>> ListAsync(string tenant)
    {
        tenant = AccountKeys.Normalize(tenant);
        var account = await grains.GetGrain<IAccountGrain>(tenant).GetAsync();
        var inGrains = await Task.WhenAll(account.Leases.Select(id => grains.GetGrain<ILeaseGrain>(id).GetAsync().AsTask()));
        var leases = inGrains.OfType<LeaseSnapshot>().ToDictionary(l => l.Id);
        foreach (var kept in await book.ListTenantAsync(tenant)) leases.TryAdd(kept.Id, kept);
        return leases.Values.OrderByDescending(l => l.CreatedAt).ToList();
    }
}
