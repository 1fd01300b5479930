// One store file: its connections, its schema, and the single writer that group-commits every write queued by
// grain storage and the reminder table. Writes from many grains wait in one queue; the writer takes everything
// queued, runs it in one transaction and commits once, so the cost of a commit is shared by the whole batch.
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace OrleansCompute.Storage.Database;

public sealed class SqliteDatabase : IDisposable, IAsyncDisposable
{
    /// <summary>The most writes one transaction commits, which bounds how long a write can wait behind a batch.</summary>
    private const int MaxBatchSize = 4096;

    private readonly Channel<PendingWrite> _queue =
        Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly StatementCache _writer;
    private readonly WriteTransaction _transaction;
    private readonly ReadConnectionPool _readers;
    private readonly ILogger _logger;
    private readonly Task _writing;
    // No spinning before it blocks: see WaitForWrites.
    private readonly ManualResetEventSlim _queued = new(initialState: false, spinCount: 0);
    private long _transactions;
    private long _writes;
    private int _disposed;

    private SqliteDatabase(string path, ILogger logger)
    {
        Path = path;
        _logger = logger;
        // WAL with synchronous=NORMAL: a commit is in the WAL before the write completes, so it survives the process
        // dying; only an OS crash or power loss can undo the last commits, and never leaves the file inconsistent.
        _writer = new StatementCache(OpenConnection(
            """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            PRAGMA busy_timeout = 5000;
            PRAGMA journal_size_limit = 67108864;
            """));
        try
        {
            CreateSchema(_writer.Connection);
        }
        catch
        {
            _writer.Dispose();
            throw;
        }
        _transaction = new WriteTransaction(_writer);
        _readers = new ReadConnectionPool(() => OpenConnection("PRAGMA busy_timeout = 5000; PRAGMA query_only = ON;"));
        // A thread of its own: the writer blocks in SQLite for its whole life, and must not wait behind grain work
        // in the thread pool's queue to start the next batch.
        _writing = Task.Factory.StartNew(WriteBatches, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>The full path of the store file.</summary>
    public string Path { get; }

    /// <summary>How many transactions the writer has committed and how many writes they carried.</summary>
    public SqliteWriteStatistics Statistics => new(Interlocked.Read(ref _transactions), Interlocked.Read(ref _writes));

    /// <summary>Opens the store file at <paramref name="path"/>, creating it and its tables when missing.</summary>
    public static SqliteDatabase Open(string path, ILogger<SqliteDatabase>? logger = null)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(fullPath)!);
        return new SqliteDatabase(fullPath, logger ?? NullLogger<SqliteDatabase>.Instance);
    }

    /// <summary>
    /// Queues <paramref name="write"/> for the writer. The task completes with its result once the batch it ran in
    /// has committed. A write signals a refusal (a stale ETag) through its result: throwing fails its whole batch.
    /// </summary>
    internal Task<T> WriteAsync<T>(Func<WriteTransaction, T> write)
    {
        var pending = new PendingWrite<T>(write);
        return _queue.Writer.TryWrite(pending)
            ? pending.Task
            : Task.FromException<T>(new ObjectDisposedException(nameof(SqliteDatabase), $"The store {Path} is closed."));
    }

    /// <summary>Runs <paramref name="read"/> on a read connection; it sees every batch committed before it started.</summary>
    internal T Read<T>(Func<StatementCache, T> read) => _readers.Read(read);

    private void WriteBatches()
    {
        var batch = new List<PendingWrite>(MaxBatchSize);
        while (WaitForWrites())
        {
            while (batch.Count < MaxBatchSize && _queue.Reader.TryRead(out var write)) batch.Add(write);
            Commit(batch);
            batch.Clear();
        }
    }

    /// <summary>
    /// Blocks the writer's thread until a write is queued (true) or the store is closing (false). A blocking Task.Wait
    /// spins before it sleeps, and the writer waits like that between every two batches when writes come a few at a
    /// time: on two cores that spinning took a sixth of the CPU of the gateway's load, which writes once per request.
    /// </summary>
    private bool WaitForWrites()
    {
        var ready = _queue.Reader.WaitToReadAsync();
        if (!ready.IsCompleted)
        {
            _queued.Reset();
            ready.GetAwaiter().UnsafeOnCompleted(_queued.Set);
            _queued.Wait();
        }
        return ready.GetAwaiter().GetResult();
    }

    private void Commit(List<PendingWrite> batch)
    {
        try
        {
            _transaction.Begin();
            foreach (var write in batch) write.Execute(_transaction);
            _transaction.Commit();
        }
        catch (Exception exception)
        {
            _logger.LogError(exception, "SQLite store {Path}: a batch of {Count} writes failed and was rolled back", Path, batch.Count);
            try
            {
                _transaction.Rollback();
            }
            catch (Exception rollbackException)
            {
                _logger.LogError(rollbackException, "SQLite store {Path}: rollback failed", Path);
            }
            foreach (var write in batch) write.Failed(exception);
            return;
        }

        Interlocked.Increment(ref _transactions);
        Interlocked.Add(ref _writes, batch.Count);
        foreach (var write in batch) write.Committed();
    }

    private SqliteConnection OpenConnection(string pragmas)
    {
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            // This class holds its connections for its whole life: a pool would only keep the file open after it.
            Pooling = false,
        }.ToString();
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = pragmas;
            command.ExecuteNonQuery();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static void CreateSchema(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version";
        var version = Convert.ToInt32(command.ExecuteScalar());
        if (version > SqliteSchema.Version)
        {
            throw new InvalidOperationException(
                $"The store {connection.DataSource} has schema version {version}; this build knows up to {SqliteSchema.Version}.");
        }

        using var transaction = connection.BeginTransaction();
        command.Transaction = transaction;
        command.CommandText = SqliteSchema.Create + $"PRAGMA user_version = {SqliteSchema.Version};";
        command.ExecuteNonQuery();
        transaction.Commit();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _queue.Writer.TryComplete();
        await _writing.ConfigureAwait(false);
        try
        {
            // Fold the WAL back into the file so a closed store is one self-contained file.
            using var checkpoint = _writer.Connection.CreateCommand();
            checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
            checkpoint.ExecuteNonQuery();
        }
        catch (SqliteException exception)
        {
            _logger.LogWarning(exception, "SQLite store {Path}: checkpoint on close failed; the WAL is kept", Path);
        }
        _readers.Dispose();
        _writer.Dispose();
        _queued.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
