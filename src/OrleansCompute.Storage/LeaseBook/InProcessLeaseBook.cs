// The pools' lease book in this process's memory, for a host that need not survive a restart (the bench's memory
// store) and for test clusters, whose silos share one instance as they would share a database. Each record is kept
// serialized, as the SQLite book keeps it, in one dictionary: two objects per lease (an entry and a byte array), which
// the garbage collector never has to trace into. Reading a pool's or a tenant's records scans them all; that happens
// when a pool activates or a tenant lists its leases, not on a booking's path. Memory is bounded: of the reservations
// that ended unfunded (cancelled or expired) and that no lease grain took over, it keeps the most recent
// MaxEndedReservations; older ones are forgotten (the SQLite book keeps them all).
using System.Collections.Concurrent;
using Orleans.Serialization;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Storage.LeaseBook;

public sealed class InProcessLeaseBook(Serializer serializer) : ILeaseBook
{
    public const int MaxEndedReservations = 10_000;

    private readonly ConcurrentDictionary<Guid, Row> _rows = new();
    /// <summary>Ended reservations in the order they ended, the oldest forgotten first.</summary>
    private readonly ConcurrentQueue<Guid> _ended = new();

    public Task<IReadOnlyList<BookedLease>> ReadLiveAsync(string poolKey) =>
        Task.FromResult<IReadOnlyList<BookedLease>>(_rows.Values.Where(r => r.Live && r.PoolKey == poolKey).Select(Read).ToList());

    public Task<BookedLease?> FindAsync(Guid leaseId) =>
        Task.FromResult(_rows.TryGetValue(leaseId, out var row) ? Read(row) : null);

    public Task<string?> FindPoolAsync(Guid leaseId) =>
        Task.FromResult(_rows.TryGetValue(leaseId, out var row) ? row.PoolKey : null);

    public Task<IReadOnlyList<LeaseSnapshot>> ListTenantAsync(string tenant) =>
        Task.FromResult<IReadOnlyList<LeaseSnapshot>>(_rows.Values.Where(r => r.Tenant == tenant).Select(r => Read(r).Lease!).ToList());

    public Task WriteAsync(BookedLease record)
    {
        var row = new Row(record.PoolKey, record.Lease?.Tenant, record.IsLive, serializer.SerializeToArray(record));
        _rows[record.LeaseId] = row;
        if (row.IsEndedReservation)
        {
            _ended.Enqueue(record.LeaseId);
            while (_ended.Count > MaxEndedReservations && _ended.TryDequeue(out var oldest))
            {
                if (_rows.TryGetValue(oldest, out var old) && old.IsEndedReservation) _rows.TryRemove(new KeyValuePair<Guid, Row>(oldest, old));
            }
        }
        return Task.CompletedTask;
    }

    public Task RemoveAsync(Guid leaseId)
    {
        _rows.TryRemove(leaseId, out _);
        return Task.CompletedTask;
    }

    private BookedLease Read(Row row) => serializer.Deserialize<BookedLease>(row.Payload)!;

    /// <summary>A record and the columns it is looked up by (the pool key and tenant strings are shared, not copied).</summary>
    private readonly record struct Row(string PoolKey, string? Tenant, bool Live, byte[] Payload)
    {
        /// <summary>A lease the pool keeps that books nothing and waits for nothing: it ended before any lease grain took it.</summary>
        public bool IsEndedReservation => !Live && Tenant is not null;
    }
}
