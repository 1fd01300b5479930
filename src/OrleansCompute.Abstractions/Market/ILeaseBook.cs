using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// Where pools keep their leases, one record per lease written on its own. A pool's state is written whole on every
/// change; a booking written as one small record costs the same whatever else the pool holds, so a reservation needs
/// no grain of its own until it is funded. The pool is the only writer of its records; anyone may read them.
/// </summary>
public interface ILeaseBook
{
    /// <summary>The pool's records that it needs to rebuild its calendars and reservations (<see cref="BookedLease.IsLive"/>).</summary>
    Task<IReadOnlyList<BookedLease>> ReadLiveAsync(string poolKey);

    /// <summary>The record of <paramref name="leaseId"/>, whichever pool keeps it; null when none does.</summary>
    Task<BookedLease?> FindAsync(Guid leaseId);

    /// <summary>The pool that keeps a record of <paramref name="leaseId"/>; null when none does. Cheaper than <see cref="FindAsync"/>.</summary>
    Task<string?> FindPoolAsync(Guid leaseId);

    /// <summary>The leases of <paramref name="tenant"/> that pools still keep (not yet handed to their lease grains).</summary>
    Task<IReadOnlyList<LeaseSnapshot>> ListTenantAsync(string tenant);

    /// <summary>Stores <paramref name="record"/>, replacing the lease's previous one; durable when the task completes.</summary>
    Task WriteAsync(BookedLease record);

    /// <summary>Forgets the lease's record: it books nothing and its lease grain holds the lease.</summary>
    Task RemoveAsync(Guid leaseId);
}
