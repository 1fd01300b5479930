// Read-only connections, one per concurrent reader. In WAL mode readers never wait for the writer, and each
// read sees every batch committed before it started.
using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace OrleansCompute.Storage.Database;

internal sealed class ReadConnectionPool(Func<SqliteConnection> open) : IDisposable
{
    private readonly ConcurrentBag<StatementCache> _idle = [];
    private volatile bool _disposed;

    /// <summary>Runs <paramref name="read"/> on an idle connection, opening one when all are busy.</summary>
    public T Read<T>(Func<StatementCache, T> read)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_idle.TryTake(out var statements)) statements = new StatementCache(open());
        try
        {
            return read(statements);
        }
        finally
        {
            if (_disposed) statements.Dispose();
            else _idle.Add(statements);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var statements)) statements.Dispose();
    }
}
