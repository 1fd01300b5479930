// The pools' lease book in this process's memory, for a host that need not survive a restart (the bench's memory
// store) and for test clusters, whose silos share one instance as they would share a database. Each record is kept
// serialized, as the SQLite book keeps it, in one dictionary: two objects per lease (an entry and a byte array), which
// the garbage collector never has to trace into. Reading a pool's or a tenant's records scans them all; that happens
// when a pool activates or a tenant lists its leases, not on a booking's path.
using System.Collections.Concurrent;
using Orleans.Serialization;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Storage.LeaseBook;

public sealed class InProcessLeaseBook(Serializer serializer) : ILeaseBook
{
    private readonly ConcurrentDictionary<Guid, Row> _rows = new();

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
        _rows[record.LeaseId] = new Row(record.PoolKey, record.Lease?.Tenant, record.IsLive, serializer.SerializeToArray(record));
        return Task.CompletedTask;
    }

    public Task RemoveAsync(Guid leaseId)
    {
        _rows.TryRemove(leaseId, out _);
        return Task.CompletedTask;
    }

    private BookedLease Read(Row row) => serializer.Deserialize<BookedLease>(row.Payload)!;

    /// <summary>A record and the columns it is looked up by (the pool key and tenant strings are shared, not copied).</summary>
    private readonly record struct Row(string PoolKey, string? Tenant, bool Live, byte[] Payload);
}
