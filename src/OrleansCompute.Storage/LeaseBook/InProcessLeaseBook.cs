// The pools' lease book in this process's memory, for a host that need not survive a restart (the bench's memory
// store) and for test clusters, whose silos share one instance as they would share a database. Records are immutable
// ([Immutable] records of immutable parts), so they are kept as they are, in one dictionary, as Orleans keeps an
// [Immutable] argument without copying it. Reading a pool's or a tenant's records scans them all; that happens when a
// pool activates or a tenant lists its leases, not on a booking's path. Memory is bounded: of the reservations that
// ended unfunded (cancelled or expired) and that no lease grain took over, it keeps the most recent
// MaxEndedReservations; older ones are forgotten (the SQLite book keeps them all).
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Storage.LeaseBook;

public sealed class InProcessLeaseBook : ILeaseBook
{
    /// <summary>A memory host is for tests, benchmarks and trying things out: enough to look back at recent cancels and expiries.</summary>
    public const int MaxEndedReservations = 1_000;

    // One lock over a plain dictionary: every operation is a few hundred nanoseconds, far less than the striped
    // locks and node allocations of a ConcurrentDictionary cost on a booking's path.
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, BookedLease> _records = [];
    /// <summary>Ended reservations in the order they ended, the oldest forgotten first.</summary>
    private readonly Queue<Guid> _ended = new();

    public Task<IReadOnlyList<BookedLease>> ReadLiveAsync(string poolKey)
    {
        lock (_lock) return Task.FromResult<IReadOnlyList<BookedLease>>(_records.Values.Where(r => r.IsLive && r.PoolKey == poolKey).ToList());
    }

    public Task<BookedLease?> FindAsync(Guid leaseId)
    {
        lock (_lock) return Task.FromResult(_records.GetValueOrDefault(leaseId));
    }

    public Task<string?> FindPoolAsync(Guid leaseId)
    {
        lock (_lock) return Task.FromResult(_records.GetValueOrDefault(leaseId)?.PoolKey);
    }

    public Task<IReadOnlyList<LeaseSnapshot>> ListTenantAsync(string tenant)
    {
        lock (_lock) return Task.FromResult<IReadOnlyList<LeaseSnapshot>>(_records.Values.Select(r => r.Lease).OfType<LeaseSnapshot>().Where(l => l.Tenant == tenant).ToList());
    }

    public Task WriteAsync(BookedLease record)
    {
        lock (_lock)
        {
            _records[record.LeaseId] = record;
            if (IsEndedReservation(record))
            {
                _ended.Enqueue(record.LeaseId);
                while (_ended.Count > MaxEndedReservations)
                {
                    var oldest = _ended.Dequeue();
                    if (_records.TryGetValue(oldest, out var old) && IsEndedReservation(old)) _records.Remove(oldest);
                }
            }
        }
        return Task.CompletedTask;
    }

    public Task RemoveAsync(Guid leaseId)
    {
        lock (_lock) _records.Remove(leaseId);
        return Task.CompletedTask;
    }

    /// <summary>A lease the pool keeps that books nothing and waits for nothing: it ended before any lease grain took it.</summary>
    private static bool IsEndedReservation(BookedLease record) => !record.IsLive && record.Lease is not null;
}
