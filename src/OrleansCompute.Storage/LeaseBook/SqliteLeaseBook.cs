// The pools' lease book in a SQLite store: one row per lease, its record serialized by Orleans' serializer. Writes go
// through the store's group-commit writer, so thousands of bookings a second share a handful of commits.
using System.Collections.Concurrent;
using Orleans.Serialization;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Storage.Database;

namespace OrleansCompute.Storage.LeaseBook;

public sealed class SqliteLeaseBook(SqliteDatabase database, Serializer<BookedLease> serializer) : ILeaseBook
{
    /// <summary>
    /// How far back a tenant's list reaches for reservations that ended unfunded: the newest this many records. Only
    /// live records are indexed by tenant (see <see cref="SqliteSchema"/>); older ended ones are still found by id.
    /// </summary>
    public const int RecentRecordsListed = 10_000;

    private const string SelectLive = "SELECT payload FROM lease_book WHERE pool_key = @pool AND live = 1";
    private const string SelectOne = "SELECT payload FROM lease_book WHERE lease_id = @lease";
    private const string SelectPool = "SELECT pool_key FROM lease_book WHERE lease_id = @lease";
    private static readonly string SelectTenant = $"""
        SELECT payload FROM lease_book WHERE tenant = @tenant AND live = 1
        UNION ALL
        SELECT payload FROM lease_book
        WHERE lease_id >= (SELECT min(lease_id) FROM (SELECT lease_id FROM lease_book ORDER BY lease_id DESC LIMIT {RecentRecordsListed}))
          AND tenant = @tenant AND live = 0
        """;
    private const string Upsert = """
        INSERT INTO lease_book (lease_id, pool_key, tenant, live, payload) VALUES (@lease, @pool, @tenant, @live, @payload)
        ON CONFLICT (lease_id) DO UPDATE SET pool_key = excluded.pool_key, tenant = excluded.tenant, live = excluded.live, payload = excluded.payload
        """;
    private const string Delete = "DELETE FROM lease_book WHERE lease_id = @lease";

    /// <summary>
    /// The pool of every live record this book wrote, so that ending a reservation (the common case) finds its pool
    /// without a read. A lease's pool never changes, so an entry can only be late: a record removed by another
    /// process sharing the file. Callers already handle that answer, as the pool says when it no longer keeps a lease.
    /// </summary>
    private readonly ConcurrentDictionary<Guid, string> _livePools = new();

    public Task<IReadOnlyList<BookedLease>> ReadLiveAsync(string poolKey) =>
        Task.FromResult(ReadMany(SelectLive, "@pool", poolKey));

    public Task<BookedLease?> FindAsync(Guid leaseId) =>
        Task.FromResult(database.Read(statements =>
        {
            using var reader = statements.Command(SelectOne).Bind("@lease", Key(leaseId)).ExecuteReader();
            return reader.Read() ? serializer.Deserialize(reader.GetFieldValue<byte[]>(0)) : null;
        }));

    public Task<string?> FindPoolAsync(Guid leaseId) =>
        Task.FromResult(_livePools.TryGetValue(leaseId, out var poolKey)
            ? poolKey
            : database.Read(statements => statements.Command(SelectPool).Bind("@lease", Key(leaseId)).ExecuteScalar() as string));

    public Task<IReadOnlyList<LeaseSnapshot>> ListTenantAsync(string tenant) =>
        Task.FromResult<IReadOnlyList<LeaseSnapshot>>(ReadMany(SelectTenant, "@tenant", tenant).Select(r => r.Lease).OfType<LeaseSnapshot>().ToList());

    public Task WriteAsync(BookedLease record)
    {
        var payload = serializer.SerializeToArray(record);
        var key = Key(record.LeaseId);
        var live = record.IsLive;
        if (live) _livePools[record.LeaseId] = record.PoolKey;
        else _livePools.TryRemove(record.LeaseId, out _);
        return database.WriteAsync(transaction => transaction.Command(Upsert)
            .Bind("@lease", key).Bind("@pool", record.PoolKey).Bind("@tenant", record.Lease?.Tenant)
            .Bind("@live", live ? 1 : 0).Bind("@payload", payload).ExecuteNonQuery());
    }

    public Task RemoveAsync(Guid leaseId)
    {
        _livePools.TryRemove(leaseId, out _);
        var key = Key(leaseId);
        return database.WriteAsync(transaction => transaction.Command(Delete).Bind("@lease", key).ExecuteNonQuery());
    }

    private IReadOnlyList<BookedLease> ReadMany(string sql, string parameter, string value) =>
        database.Read(statements =>
        {
            var records = new List<BookedLease>();
            using var reader = statements.Command(sql).Bind(parameter, value).ExecuteReader();
            while (reader.Read()) records.Add(serializer.Deserialize(reader.GetFieldValue<byte[]>(0))!);
            return records;
        });

    /// <summary>The id's bytes in RFC order, so that time-ordered (version 7) ids sort by time in the index.</summary>
    private static byte[] Key(Guid leaseId) => leaseId.ToByteArray(bigEndian: true);
}
