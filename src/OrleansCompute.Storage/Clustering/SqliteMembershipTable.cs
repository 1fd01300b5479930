// Orleans cluster membership in a SQLite store, so that silos in several processes sharing the file and a cluster id
// find each other and form one cluster. A silo's row and its cluster's table version change in one transaction of the
// store's writer, which checks both ETags first; the file's write lock orders the writers of every process.
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using OrleansCompute.Storage.Database;

namespace OrleansCompute.Storage.Clustering;

/// <summary>
/// The membership table of the cluster <see cref="ClusterOptions.ClusterId"/>. The entry is stored whole, serialized
/// by Orleans' version-tolerant serializer: its suspect votes are a list, and fields a later Orleans adds survive a
/// round trip. What SQL must see is mirrored in columns: the heartbeat, written alone without rewriting the payload,
/// and the status and times the cleanup selects by.
/// </summary>
public sealed class SqliteMembershipTable(
    SqliteDatabase database,
    Serializer<MembershipEntry> serializer,
    IOptions<ClusterOptions> clusterOptions) : IMembershipTable
{
    /// <summary>
    /// The ETag of a cluster without a version row (never initialized, or deleted). The store's ETags start at 1, so
    /// it matches no stored version; a write that expects it creates the row.
    /// </summary>
    private const long MissingVersionEtag = 0;

    private const string SelectTable = """
        SELECT v.version, v.etag, m.etag, m.i_am_alive, m.payload
        FROM membership_version v LEFT JOIN membership m ON m.cluster_id = v.cluster_id
        WHERE v.cluster_id = @cluster
        """;
    private const string SelectTableRow = """
        SELECT v.version, v.etag, m.etag, m.i_am_alive, m.payload
        FROM membership_version v LEFT JOIN membership m ON m.cluster_id = v.cluster_id AND m.silo = @silo
        WHERE v.cluster_id = @cluster
        """;
    private const string SelectVersionEtag = "SELECT etag FROM membership_version WHERE cluster_id = @cluster";
    private const string SelectRowEtag = "SELECT etag FROM membership WHERE cluster_id = @cluster AND silo = @silo";
    private const string InitializeVersion = """
        INSERT INTO membership_version (cluster_id, version, etag) VALUES (@cluster, 0, @etag) ON CONFLICT DO NOTHING
        """;
    private const string WriteVersion = """
        INSERT INTO membership_version (cluster_id, version, etag) VALUES (@cluster, @version, @etag)
        ON CONFLICT (cluster_id) DO UPDATE SET version = excluded.version, etag = excluded.etag
        """;
    private const string InsertMember = """
        INSERT INTO membership (cluster_id, silo, etag, status, i_am_alive, updated_at, payload)
        VALUES (@cluster, @silo, @etag, @status, @i_am_alive, @updated_at, @payload)
        """;
    // The heartbeat never moves back: a silo that votes against another writes back the entry as it read it, and
    // must not undo a heartbeat written since.
    private const string UpdateMember = """
        UPDATE membership SET etag = @etag, status = @status, i_am_alive = max(i_am_alive, @i_am_alive),
            updated_at = @updated_at, payload = @payload
        WHERE cluster_id = @cluster AND silo = @silo
        """;
    private const string UpdateIAmAliveTime = "UPDATE membership SET i_am_alive = @i_am_alive WHERE cluster_id = @cluster AND silo = @silo";
    private const string DeleteDefunct = """
        DELETE FROM membership
        WHERE cluster_id = @cluster AND status = @dead AND max(i_am_alive, updated_at) < @before
        """;
    private const string DeleteMembers = "DELETE FROM membership WHERE cluster_id = @cluster";
    private const string DeleteVersion = "DELETE FROM membership_version WHERE cluster_id = @cluster";

    private readonly string _clusterId = clusterOptions.Value.ClusterId
        ?? throw new ArgumentException("ClusterOptions.ClusterId is required for SQLite clustering.", nameof(clusterOptions));

    /// <summary>Creates the cluster's table version when <paramref name="tryInitTableVersion"/>; an existing one is kept.</summary>
    public Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!tryInitTableVersion) return Task.CompletedTask;
        return database.WriteAsync(transaction =>
            transaction.Command(InitializeVersion).Bind("@cluster", _clusterId).Bind("@etag", transaction.NextEtag()).ExecuteNonQuery());
    }

    /// <summary>Removes every row and the table version of <paramref name="clusterId"/>, which need not be this table's.</summary>
    public Task DeleteMembershipTableEntriesAsync(string clusterId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return database.WriteAsync(transaction =>
            transaction.Command(DeleteMembers).Bind("@cluster", clusterId).ExecuteNonQuery()
            + transaction.Command(DeleteVersion).Bind("@cluster", clusterId).ExecuteNonQuery());
    }

    /// <summary>
    /// Removes the Dead entries last updated before <paramref name="beforeDate"/>: by their heartbeat, their start and
    /// the votes against them, as Orleans' cleanup agent picks its cut-off by that time. Other statuses are kept.
    /// </summary>
    public Task CleanupDefunctSiloEntriesAsync(DateTimeOffset beforeDate, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var before = beforeDate.UtcTicks;
        return database.WriteAsync(transaction => transaction.Command(DeleteDefunct)
            .Bind("@cluster", _clusterId).Bind("@dead", (long)SiloStatus.Dead).Bind("@before", before)
            .ExecuteNonQuery());
    }

    public Task<MembershipTableData> ReadRowAsync(SiloAddress key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var silo = key.ToParsableString();
        return Query(SelectTableRow, command => command.Bind("@silo", silo));
    }

    public Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Query(SelectTable, _ => { });
    }

    /// <summary>
    /// Adds <paramref name="entry"/> and moves the table to <paramref name="tableVersion"/>; false, changing nothing,
    /// when the silo has a row already or the table's ETag is no longer <see cref="TableVersion.VersionEtag"/>.
    /// </summary>
    public Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (ParseEtag(tableVersion.VersionEtag) is not { } expectedVersion) return Task.FromResult(false);
        var row = ToRow(entry);
        return database.WriteAsync(transaction =>
        {
            if (!VersionIs(transaction, expectedVersion) || ReadRowEtag(transaction, row.Silo) is not null) return false;
            row.BindTo(transaction.Command(InsertMember), _clusterId).Bind("@etag", transaction.NextEtag()).ExecuteNonQuery();
            MoveVersion(transaction, tableVersion.Version);
            return true;
        });
    }

    /// <summary>
    /// Replaces the silo's entry and moves the table to <paramref name="tableVersion"/>; false, changing nothing, when
    /// the silo has no row, its row's ETag is not <paramref name="etag"/>, or the table's is not the version's.
    /// </summary>
    public Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (ParseEtag(tableVersion.VersionEtag) is not { } expectedVersion || ParseEtag(etag) is not { } expectedRow)
        {
            return Task.FromResult(false);
        }
        var row = ToRow(entry);
        return database.WriteAsync(transaction =>
        {
            if (!VersionIs(transaction, expectedVersion) || ReadRowEtag(transaction, row.Silo) != expectedRow) return false;
            row.BindTo(transaction.Command(UpdateMember), _clusterId).Bind("@etag", transaction.NextEtag()).ExecuteNonQuery();
            MoveVersion(transaction, tableVersion.Version);
            return true;
        });
    }

    /// <summary>
    /// Writes the heartbeat alone. The row's ETag stays: a silo's own heartbeats must not fail another silo's vote
    /// against it, which only the table version guards.
    /// </summary>
    public Task UpdateIAmAliveAsync(MembershipEntry entry, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var silo = entry.SiloAddress.ToParsableString();
        var iAmAlive = UtcTicks(entry.IAmAliveTime);
        return database.WriteAsync(transaction => transaction.Command(UpdateIAmAliveTime)
            .Bind("@cluster", _clusterId).Bind("@silo", silo).Bind("@i_am_alive", iAmAlive)
            .ExecuteNonQuery());
    }

    // Orleans 10 marks the methods without a cancellation token obsolete, and implements the ones with a token by
    // calling these; both lead to the same code.
    Task IMembershipTable.InitializeMembershipTable(bool tryInitTableVersion) => InitializeMembershipTableAsync(tryInitTableVersion);

    Task IMembershipTable.DeleteMembershipTableEntries(string clusterId) => DeleteMembershipTableEntriesAsync(clusterId);

    Task IMembershipTable.CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => CleanupDefunctSiloEntriesAsync(beforeDate);

    Task<MembershipTableData> IMembershipTable.ReadRow(SiloAddress key) => ReadRowAsync(key);

    Task<MembershipTableData> IMembershipTable.ReadAll() => ReadAllAsync();

    Task<bool> IMembershipTable.InsertRow(MembershipEntry entry, TableVersion tableVersion) => InsertRowAsync(entry, tableVersion);

    Task<bool> IMembershipTable.UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => UpdateRowAsync(entry, etag, tableVersion);

    Task IMembershipTable.UpdateIAmAlive(MembershipEntry entry) => UpdateIAmAliveAsync(entry);

    /// <summary>
    /// The table version and the rows <paramref name="sql"/> selects, in one statement and so from one snapshot of
    /// the file. A cluster without a version row reads as empty, at version 0.
    /// </summary>
    private Task<MembershipTableData> Query(string sql, Action<SqliteCommand> bind)
    {
        try
        {
            var table = database.Read(statements =>
            {
                var command = statements.Command(sql).Bind("@cluster", _clusterId);
                bind(command);
                using var reader = command.ExecuteReader();
                var version = new TableVersion(0, FormatEtag(MissingVersionEtag));
                var members = new List<Tuple<MembershipEntry, string>>();
                while (reader.Read())
                {
                    version = new TableVersion(checked((int)reader.GetInt64(0)), FormatEtag(reader.GetInt64(1)));
                    if (reader.IsDBNull(2)) continue;
                    var entry = serializer.Deserialize(reader.GetFieldValue<byte[]>(4))!;
                    entry.IAmAliveTime = new DateTime(reader.GetInt64(3), DateTimeKind.Utc);
                    members.Add(Tuple.Create(entry, FormatEtag(reader.GetInt64(2))));
                }
                return new MembershipTableData(members, version);
            });
            return Task.FromResult(table);
        }
        catch (Exception exception)
        {
            return Task.FromException<MembershipTableData>(exception);
        }
    }

    private bool VersionIs(WriteTransaction transaction, long expected) =>
        (transaction.Command(SelectVersionEtag).Bind("@cluster", _clusterId).ExecuteScalar() as long? ?? MissingVersionEtag) == expected;

    private long? ReadRowEtag(WriteTransaction transaction, string silo) =>
        transaction.Command(SelectRowEtag).Bind("@cluster", _clusterId).Bind("@silo", silo).ExecuteScalar() as long?;

    private void MoveVersion(WriteTransaction transaction, int version) =>
        transaction.Command(WriteVersion)
            .Bind("@cluster", _clusterId).Bind("@version", version).Bind("@etag", transaction.NextEtag())
            .ExecuteNonQuery();

    private MemberRow ToRow(MembershipEntry entry)
    {
        // The entry's last update apart from its heartbeat, which has a column of its own.
        var updatedAt = UtcTicks(entry.StartTime);
        foreach (var (_, voteTime) in entry.SuspectTimes ?? []) updatedAt = Math.Max(updatedAt, UtcTicks(voteTime));
        return new MemberRow(
            entry.SiloAddress.ToParsableString(), (int)entry.Status, UtcTicks(entry.IAmAliveTime), updatedAt,
            serializer.SerializeToArray(entry));
    }

    /// <summary>Orleans' membership times are UTC; one of unspecified kind is taken as UTC, as Orleans compares them.</summary>
    private static long UtcTicks(DateTime time) => (time.Kind == DateTimeKind.Local ? time.ToUniversalTime() : time).Ticks;

    /// <summary>An ETag this store did not issue matches nothing: null stands for it.</summary>
    private static long? ParseEtag(string? etag) =>
        long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static string FormatEtag(long etag) => etag.ToString(CultureInfo.InvariantCulture);

    private readonly record struct MemberRow(string Silo, int Status, long IAmAlive, long UpdatedAt, byte[] Payload)
    {
        public SqliteCommand BindTo(SqliteCommand command, string clusterId) => command
            .Bind("@cluster", clusterId).Bind("@silo", Silo).Bind("@status", Status)
            .Bind("@i_am_alive", IAmAlive).Bind("@updated_at", UpdatedAt).Bind("@payload", Payload);
    }
}
