using OrleansCompute.Storage.Database;
using OrleansCompute.Storage.Reminders;
using OrleansCompute.Storage.Tests.Infrastructure;

namespace OrleansCompute.Storage.Tests;

/// <summary>The contract Orleans' reminder service relies on, as its own reminder-table tests state it.</summary>
public sealed class ReminderTableTests(TempDirectory directory) : IClassFixture<TempDirectory>
{
    private static readonly DateTime StartAt = new(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);

    [Fact]
    public async Task An_upserted_reminder_is_read_back_by_grain_and_by_name()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var table = new SqliteReminderTable(database);
        var grain = Stores.Grain("lease-1");

        var etag = await table.UpsertRow(Entry(grain, "expiry", TimeSpan.FromMinutes(5)));
        await table.UpsertRow(Entry(grain, "settle", TimeSpan.FromMinutes(1)));
        await table.UpsertRow(Entry(Stores.Grain("lease-2"), "expiry", TimeSpan.FromMinutes(5)));

        var row = await table.ReadRow(grain, "expiry");
        Assert.NotNull(row);
        Assert.Equal(grain, row.GrainId);
        Assert.Equal("expiry", row.ReminderName);
        Assert.Equal(StartAt, row.StartAt);
        Assert.Equal(DateTimeKind.Utc, row.StartAt.Kind);
        Assert.Equal(TimeSpan.FromMinutes(5), row.Period);
        Assert.Equal(etag, row.ETag);

        var rows = await table.ReadRows(grain);
        Assert.Equal(["expiry", "settle"], rows.Reminders.Select(r => r.ReminderName).Order());
        Assert.Null(await table.ReadRow(grain, "no-such-reminder"));
    }

    [Fact]
    public async Task Upsert_replaces_the_reminder_and_returns_a_new_etag()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var table = new SqliteReminderTable(database);
        var grain = Stores.Grain("lease-1");

        var first = await table.UpsertRow(Entry(grain, "expiry", TimeSpan.FromMinutes(5)));
        var second = await table.UpsertRow(Entry(grain, "expiry", TimeSpan.FromMinutes(7)));

        Assert.NotEqual(first, second);
        var row = await table.ReadRow(grain, "expiry");
        Assert.Equal(TimeSpan.FromMinutes(7), row!.Period);
        Assert.Equal(second, row.ETag);
        Assert.Single((await table.ReadRows(grain)).Reminders);
    }

    [Fact]
    public async Task Remove_with_a_wrong_etag_keeps_the_reminder_and_with_the_right_one_deletes_it()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var table = new SqliteReminderTable(database);
        var grain = Stores.Grain("lease-1");
        var stale = await table.UpsertRow(Entry(grain, "expiry", TimeSpan.FromMinutes(5)));
        var current = await table.UpsertRow(Entry(grain, "expiry", TimeSpan.FromMinutes(5)));

        Assert.False(await table.RemoveRow(grain, "expiry", stale!));
        Assert.False(await table.RemoveRow(grain, "expiry", "not-an-etag"));
        Assert.NotNull(await table.ReadRow(grain, "expiry"));

        Assert.True(await table.RemoveRow(grain, "expiry", current!));
        Assert.Null(await table.ReadRow(grain, "expiry"));
        Assert.False(await table.RemoveRow(grain, "expiry", current!));
    }

    [Fact]
    public async Task A_range_read_returns_the_reminders_whose_grain_hash_is_above_begin_and_up_to_end()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var table = new SqliteReminderTable(database);
        var hashes = await UpsertGrainsSortedByHash(table, 10);

        var rows = await table.ReadRows(hashes[2], hashes[5]);

        Assert.Equal(hashes[3..6], HashesOf(rows));
    }

    [Fact]
    public async Task A_range_read_wraps_around_the_ring_when_begin_is_above_end()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var table = new SqliteReminderTable(database);
        var hashes = await UpsertGrainsSortedByHash(table, 10);

        var rows = await table.ReadRows(hashes[7], hashes[1]);

        Assert.Equal([hashes[0], hashes[1], hashes[8], hashes[9]], HashesOf(rows));
    }

    [Fact]
    public async Task A_range_read_with_begin_equal_to_end_returns_the_whole_ring()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var table = new SqliteReminderTable(database);
        var hashes = await UpsertGrainsSortedByHash(table, 10);

        Assert.Equal(hashes, HashesOf(await table.ReadRows(hashes[4], hashes[4])));
        Assert.Equal(hashes, HashesOf(await table.ReadRows(0, 0)));
        Assert.Equal(hashes, HashesOf(await table.ReadRows(uint.MaxValue, uint.MaxValue)));
    }

    [Fact]
    public async Task Clearing_the_table_removes_every_reminder()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var table = new SqliteReminderTable(database);
        await UpsertGrainsSortedByHash(table, 5);

        await table.TestOnlyClearTable();

        Assert.Empty((await table.ReadRows(0, 0)).Reminders);
    }

    [Fact]
    public async Task Reminders_survive_reopening_the_store()
    {
        var path = directory.NewDatabasePath();
        var grain = Stores.Grain("lease-1");
        string? etag;
        await using (var database = SqliteDatabase.Open(path))
        {
            etag = await new SqliteReminderTable(database).UpsertRow(Entry(grain, "expiry", TimeSpan.FromMinutes(5)));
        }

        await using var reopened = SqliteDatabase.Open(path);
        var row = await new SqliteReminderTable(reopened).ReadRow(grain, "expiry");

        Assert.Equal(etag, row?.ETag);
        Assert.Equal(StartAt, row?.StartAt);
    }

    private static ReminderEntry Entry(GrainId grain, string name, TimeSpan period) =>
        new() { GrainId = grain, ReminderName = name, StartAt = StartAt, Period = period };

    /// <summary>One reminder on each of <paramref name="count"/> grains; their hashes, ascending.</summary>
    private static async Task<uint[]> UpsertGrainsSortedByHash(SqliteReminderTable table, int count)
    {
        var grains = Enumerable.Range(0, count).Select(i => Stores.Grain($"ring-{i}")).ToArray();
        foreach (var grain in grains) await table.UpsertRow(Entry(grain, "tick", TimeSpan.FromMinutes(1)));
        return grains.Select(grain => grain.GetUniformHashCode()).Order().ToArray();
    }

    private static uint[] HashesOf(ReminderTableData rows) =>
        rows.Reminders.Select(row => row.GrainId.GetUniformHashCode()).Order().ToArray();
}
