using Microsoft.Data.Sqlite;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Storage.Database;
using OrleansCompute.Storage.LeaseBook;
using OrleansCompute.Storage.Tests.Infrastructure;

namespace OrleansCompute.Storage.Tests;

/// <summary>
/// The lease book keeps the same promises in SQLite and in memory: a record reads back as written, a pool reads back
/// exactly the records it needs when it activates, a tenant finds the leases pools keep for it, and the SQLite book
/// keeps them across a reopen.
/// </summary>
public sealed class LeaseBookTests(TempDirectory directory) : IClassFixture<TempDirectory>
{
    private const string Pool = "provider-a/pool-1";
    private const string Tenant = "0x00000000000000000000000000000000000000aa";

    public static TheoryData<string> Books => ["sqlite", "in-process"];

    [Theory]
    [MemberData(nameof(Books))]
    public async Task A_pool_reads_back_its_live_records_and_a_tenant_the_leases_pools_keep(string kind)
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        ILeaseBook book = kind == "sqlite" ? Stores.LeaseBook(database) : Stores.InProcessLeaseBook();
        var reserved = Record(LeaseStatus.Reserved, slots: [0, 1]);
        var handedOver = Record(LeaseStatus.Reserved, slots: [2]) with { Lease = null };
        var cancelled = Record(LeaseStatus.Cancelled, slots: []);
        var otherPool = Record(LeaseStatus.Reserved, slots: [0]) with { PoolKey = "provider-b/pool-9" };
        foreach (var record in new[] { reserved, handedOver, cancelled, otherPool }) await book.WriteAsync(record);

        var live = await book.ReadLiveAsync(Pool);
        Assert.Equal(new[] { reserved.LeaseId, handedOver.LeaseId }.Order(), live.Select(r => r.LeaseId).Order());
        Assert.Equal([0, 1], live.Single(r => r.LeaseId == reserved.LeaseId).Slots);
        Assert.Equal(reserved.Lease!.History, live.Single(r => r.LeaseId == reserved.LeaseId).Lease!.History);

        var kept = await book.ListTenantAsync(Tenant);
        Assert.Equal(new[] { reserved.LeaseId, cancelled.LeaseId, otherPool.LeaseId }.Order(), kept.Select(l => l.Id).Order());
        Assert.Equal(Pool, await book.FindPoolAsync(cancelled.LeaseId));
        Assert.Equal(LeaseStatus.Cancelled, (await book.FindAsync(cancelled.LeaseId))!.Lease!.Status);
        Assert.Null(await book.FindAsync(Guid.NewGuid()));
        Assert.Null(await book.FindPoolAsync(Guid.NewGuid()));
    }

    [Theory]
    [MemberData(nameof(Books))]
    public async Task A_rewritten_record_replaces_the_old_one_and_a_removed_one_is_gone(string kind)
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        ILeaseBook book = kind == "sqlite" ? Stores.LeaseBook(database) : Stores.InProcessLeaseBook();
        var reserved = Record(LeaseStatus.Reserved, slots: [3]);
        await book.WriteAsync(reserved);

        // Ended: it books nothing, so the pool no longer reads it back, but its tenant and anyone asking still find it.
        var expired = reserved with { Slots = [], HoldUntil = null, Lease = reserved.Lease! with { Status = LeaseStatus.Expired } };
        await book.WriteAsync(expired);
        Assert.Empty(await book.ReadLiveAsync(Pool));
        Assert.Equal(LeaseStatus.Expired, (await book.FindAsync(reserved.LeaseId))!.Lease!.Status);
        Assert.Equal([reserved.LeaseId], (await book.ListTenantAsync(Tenant)).Select(l => l.Id));

        await book.RemoveAsync(reserved.LeaseId);
        Assert.Null(await book.FindAsync(reserved.LeaseId));
        Assert.Empty(await book.ListTenantAsync(Tenant));
    }

    [Fact]
    public async Task The_sqlite_book_keeps_its_records_across_a_reopen()
    {
        var path = directory.NewDatabasePath();
        var reserved = Record(LeaseStatus.Reserved, slots: [0]);
        await using (var database = SqliteDatabase.Open(path))
        {
            await Stores.LeaseBook(database).WriteAsync(reserved);
        }

        await using var reopened = SqliteDatabase.Open(path);
        var live = await Stores.LeaseBook(reopened).ReadLiveAsync(Pool);
        Assert.Equal([reserved.LeaseId], live.Select(r => r.LeaseId));
        Assert.Equal(reserved.Lease!.Deposit, live[0].Lease!.Deposit);
    }

    [Fact]
    public async Task The_sqlite_book_lists_recent_ended_reservations_and_finds_older_ones_by_id()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var book = Stores.LeaseBook(database);
        var oldCancelled = Record(LeaseStatus.Cancelled, slots: []);
        var oldLive = Record(LeaseStatus.Reserved, slots: [0]);
        await book.WriteAsync(oldCancelled);
        await book.WriteAsync(oldLive);
        await Task.Delay(5); // version 7 ids order by millisecond, not within one
        // Newer records of another tenant push both out of the recent window; only the live one stays listed.
        await Task.WhenAll(Enumerable.Range(0, SqliteLeaseBook.RecentRecordsListed).Select(_ =>
            book.WriteAsync(Record(LeaseStatus.Cancelled, slots: []) is var other
                ? other with { Lease = other.Lease! with { Tenant = "0x00000000000000000000000000000000000000bb" } }
                : other)));
        await Task.Delay(5);
        var newCancelled = Record(LeaseStatus.Cancelled, slots: []);
        await book.WriteAsync(newCancelled);

        Assert.Equal(new[] { oldLive.LeaseId, newCancelled.LeaseId }.Order(), (await book.ListTenantAsync(Tenant)).Select(l => l.Id).Order());
        Assert.Equal(LeaseStatus.Cancelled, (await book.FindAsync(oldCancelled.LeaseId))!.Lease!.Status);
        Assert.Equal(Pool, await book.FindPoolAsync(oldCancelled.LeaseId));
    }

    [Fact]
    public async Task Opening_a_version_2_file_swaps_its_tenant_index_for_the_live_one_and_keeps_its_rows()
    {
        var path = directory.NewDatabasePath();
        var reserved = Record(LeaseStatus.Reserved, slots: [0]);
        await using (var database = SqliteDatabase.Open(path))
        {
            await Stores.LeaseBook(database).WriteAsync(reserved);
        }
        // Put the file back the way schema version 2 left it: an index of every row by tenant.
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                DROP INDEX lease_book_live_by_tenant;
                CREATE INDEX lease_book_by_tenant ON lease_book (tenant) WHERE tenant IS NOT NULL;
                PRAGMA user_version = 2;
                """;
            command.ExecuteNonQuery();
        }

        await using var reopened = SqliteDatabase.Open(path);
        using (var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'lease_book' ORDER BY name";
            var indexes = new List<string>();
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read()) indexes.Add(reader.GetString(0));
            }
            Assert.Equal(["lease_book_live_by_pool", "lease_book_live_by_tenant"], indexes.Where(n => !n.StartsWith("sqlite_", StringComparison.Ordinal)));
            command.CommandText = "PRAGMA user_version";
            Assert.Equal((long)SqliteSchema.Version, (long)command.ExecuteScalar()!);
        }
        Assert.Equal([reserved.LeaseId], (await Stores.LeaseBook(reopened).ListTenantAsync(Tenant)).Select(l => l.Id));
    }

    [Fact]
    public async Task The_in_process_book_forgets_the_oldest_ended_reservations_beyond_its_bound_and_keeps_every_live_one()
    {
        var book = Stores.InProcessLeaseBook();
        var live = Record(LeaseStatus.Reserved, slots: [0]);
        await book.WriteAsync(live);
        var ended = Enumerable.Range(0, InProcessLeaseBook.MaxEndedReservations + 5).Select(_ => Record(LeaseStatus.Cancelled, slots: [])).ToList();
        foreach (var record in ended) await book.WriteAsync(record);

        foreach (var forgotten in ended.Take(5)) Assert.Null(await book.FindAsync(forgotten.LeaseId));
        foreach (var kept in ended.Skip(5)) Assert.NotNull(await book.FindAsync(kept.LeaseId));
        Assert.Equal([live.LeaseId], (await book.ReadLiveAsync(Pool)).Select(r => r.LeaseId));
        Assert.Equal(InProcessLeaseBook.MaxEndedReservations + 1, (await book.ListTenantAsync(Tenant)).Count);
    }

    private static BookedLease Record(LeaseStatus status, IReadOnlyList<int> slots)
    {
        // Time-ordered, as the pools mint them: the book's recent window follows the ids' order.
        var id = Guid.CreateVersion7();
        var now = DateTimeOffset.UtcNow;
        var window = new LeaseWindow(now, now + TimeSpan.FromHours(2));
        var lease = new LeaseSnapshot
        {
            Id = id,
            ChainLeaseId = LeaseIds.ToChainId(id).ToString(),
            Status = status,
            Tenant = Tenant,
            Request = new LeaseRequest("h100", Math.Max(1, slots.Count), 1),
            PoolKey = Pool,
            Deposit = Credits.FromCredits(4.80m),
            CreatedAt = now,
            History = [new LeaseTransition(now, status, "Test")],
        };
        return new BookedLease(id, Pool, slots, window, slots.Count > 0 ? now + TimeSpan.FromMinutes(5) : null, lease);
    }
}
