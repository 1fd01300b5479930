// Orleans reminders in a SQLite store, so they outlive the silo. Each silo reads the reminders of its share of the
// consistent-hash ring, hence the index on each grain's uniform hash.
using System.Globalization;
using Microsoft.Data.Sqlite;
using Orleans.Runtime;
using OrleansCompute.Storage.Database;

namespace OrleansCompute.Storage.Reminders;

public sealed class SqliteReminderTable(SqliteDatabase database) : IReminderTable
{
    private const string Columns = "grain_id, reminder_name, start_at, period, etag";
    private const string SelectByGrain = $"SELECT {Columns} FROM reminders WHERE grain_id = @grain";
    private const string SelectOne = $"SELECT {Columns} FROM reminders WHERE grain_id = @grain AND reminder_name = @name";
    private const string SelectHashRange = $"SELECT {Columns} FROM reminders WHERE grain_hash > @begin AND grain_hash <= @end";
    private const string SelectWrappedHashRange = $"SELECT {Columns} FROM reminders WHERE grain_hash > @begin OR grain_hash <= @end";
    private const string Upsert = """
        INSERT INTO reminders (grain_id, reminder_name, grain_hash, start_at, period, etag)
        VALUES (@grain, @name, @hash, @start_at, @period, @etag)
        ON CONFLICT (grain_id, reminder_name) DO UPDATE SET
            grain_hash = excluded.grain_hash, start_at = excluded.start_at, period = excluded.period, etag = excluded.etag
        """;
    private const string Delete = "DELETE FROM reminders WHERE grain_id = @grain AND reminder_name = @name AND etag = @etag";
    private const string DeleteAll = "DELETE FROM reminders";

    public Task Init() => Task.CompletedTask;

    public Task<ReminderTableData> ReadRows(GrainId grainId) =>
        Query(SelectByGrain, command => command.Bind("@grain", grainId.ToString()), rows => new ReminderTableData(rows));

    /// <summary>
    /// The reminders whose grain hash lies in (<paramref name="begin"/>, <paramref name="end"/>]; when
    /// <paramref name="begin"/> is not below <paramref name="end"/> the range wraps around the ring (equal: all of it).
    /// </summary>
    public Task<ReminderTableData> ReadRows(uint begin, uint end)
    {
        var sql = begin < end ? SelectHashRange : SelectWrappedHashRange;
        return Query(sql, command => command.Bind("@begin", (long)begin).Bind("@end", (long)end), rows => new ReminderTableData(rows));
    }

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) =>
        Query(SelectOne, command => command.Bind("@grain", grainId.ToString()).Bind("@name", reminderName), rows => rows.FirstOrDefault());

    public Task<string?> UpsertRow(ReminderEntry entry)
    {
        var grain = entry.GrainId.ToString();
        var hash = (long)entry.GrainId.GetUniformHashCode();
        var startAt = entry.StartAt.ToUniversalTime().Ticks;
        var period = entry.Period.Ticks;
        return database.WriteAsync<string?>(transaction =>
        {
            var etag = transaction.NextEtag();
            transaction.Command(Upsert)
                .Bind("@grain", grain).Bind("@name", entry.ReminderName).Bind("@hash", hash)
                .Bind("@start_at", startAt).Bind("@period", period).Bind("@etag", etag)
                .ExecuteNonQuery();
            return etag.ToString(CultureInfo.InvariantCulture);
        });
    }

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag)
    {
        if (!long.TryParse(eTag, NumberStyles.None, CultureInfo.InvariantCulture, out var etag)) return Task.FromResult(false);
        var grain = grainId.ToString();
        return database.WriteAsync(transaction =>
            transaction.Command(Delete).Bind("@grain", grain).Bind("@name", reminderName).Bind("@etag", etag).ExecuteNonQuery() == 1);
    }

    public Task TestOnlyClearTable() => database.WriteAsync(transaction => transaction.Command(DeleteAll).ExecuteNonQuery());

    /// <summary>Reads the rows <paramref name="sql"/> selects, inline: a failure comes back as a faulted task.</summary>
    private Task<T> Query<T>(string sql, Action<SqliteCommand> bind, Func<List<ReminderEntry>, T> result)
    {
        try
        {
            var rows = database.Read(statements =>
            {
                var command = statements.Command(sql);
                bind(command);
                using var reader = command.ExecuteReader();
                var entries = new List<ReminderEntry>();
                while (reader.Read())
                {
                    entries.Add(new ReminderEntry
                    {
                        GrainId = GrainId.Parse(reader.GetString(0)),
                        ReminderName = reader.GetString(1),
                        StartAt = new DateTime(reader.GetInt64(2), DateTimeKind.Utc),
                        Period = TimeSpan.FromTicks(reader.GetInt64(3)),
                        ETag = reader.GetInt64(4).ToString(CultureInfo.InvariantCulture),
                    });
                }
                return entries;
            });
            return Task.FromResult(result(rows));
        }
        catch (Exception exception)
        {
            return Task.FromException<T>(exception);
        }
    }
}
