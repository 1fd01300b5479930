// What a queued write sees while the writer runs it: the writer's prepared statements and fresh ETags,
// inside the one transaction that commits the whole batch.
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace OrleansCompute.Storage.Database;

internal sealed class WriteTransaction
{
    private const string ReadLastEtag = "SELECT value FROM counters WHERE name = 'last_etag'";
    private const string WriteLastEtag = "UPDATE counters SET value = @value WHERE name = 'last_etag'";

    private readonly StatementCache _statements;
    private long _lastEtag;

    internal WriteTransaction(StatementCache statements) => _statements = statements;

    /// <summary>A prepared command on the writer's connection, enlisted in the batch's transaction.</summary>
    public SqliteCommand Command(string sql) => _statements.Command(sql);

    /// <summary>
    /// An ETag never handed out before in this file: a counter kept in the file itself, so a row that is deleted
    /// and written again can never be matched by an ETag from its earlier life.
    /// </summary>
    public long NextEtag() => ++_lastEtag;

    internal void Begin()
    {
        _statements.Command("BEGIN IMMEDIATE").ExecuteNonQuery();
        _lastEtag = (long)_statements.Command(ReadLastEtag).ExecuteScalar()!;
    }

    internal void Commit()
    {
        _statements.Command(WriteLastEtag).Bind("@value", _lastEtag).ExecuteNonQuery();
        _statements.Command("COMMIT").ExecuteNonQuery();
    }

    internal void Rollback()
    {
        // SQLite may already have rolled back on its own (a full disk, an I/O error).
        if (raw.sqlite3_get_autocommit(_statements.Connection.Handle) != 0) return;
        _statements.Command("ROLLBACK").ExecuteNonQuery();
    }
}
