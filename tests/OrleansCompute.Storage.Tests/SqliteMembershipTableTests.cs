using System.Net;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using OrleansCompute.Storage.Clustering;
using OrleansCompute.Storage.Database;
using OrleansCompute.Storage.Tests.Infrastructure;

namespace OrleansCompute.Storage.Tests;

/// <summary>
/// The contract Orleans' membership protocol relies on, as its own membership-table tests state it, and the same
/// contract between two stores opened on one file, as two silo processes open it.
/// </summary>
public sealed class SqliteMembershipTableTests(TempDirectory directory) : IClassFixture<TempDirectory>
{
    private static readonly Serializer<MembershipEntry> Serializer = new ServiceCollection()
        .AddSerializer()
        .BuildServiceProvider()
        .GetRequiredService<Serializer<MembershipEntry>>();

    private static readonly DateTime Now = new(2026, 3, 4, 5, 6, 7, DateTimeKind.Utc);
    private static int _generation;

    [Fact]
    public async Task An_initialized_table_is_empty_at_version_zero_and_initializing_again_keeps_its_etag()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var table = Table(database);

        await table.InitializeMembershipTableAsync(true);
        var first = await table.ReadAllAsync();
        await table.InitializeMembershipTableAsync(true);
        var second = await table.ReadAllAsync();

        Assert.Empty(first.Members);
        Assert.Equal(0, first.Version.Version);
        Assert.NotNull(first.Version.VersionEtag);
        Assert.Equal(first.Version, second.Version);
    }

    [Fact]
    public async Task An_inserted_entry_is_read_back_by_its_row_and_in_the_whole_table_with_the_new_version()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var table = await InitializedTable(database);
        var entry = Entry(11111, SiloStatus.Joining);
        entry.SuspectTimes = [Tuple.Create(Entry(22222).SiloAddress, Now.AddSeconds(1))];
        var initial = (await table.ReadAllAsync()).Version;

        Assert.True(await table.InsertRowAsync(entry, initial.Next()));

        var row = await table.ReadRowAsync(entry.SiloAddress);
        var all = await table.ReadAllAsync();
        foreach (var data in new[] { row, all })
        {
            Assert.Equal(1, data.Version.Version);
            Assert.NotEqual(initial.VersionEtag, data.Version.VersionEtag);
            var (stored, etag) = Assert.Single(data.Members);
            AssertSameEntry(entry, stored);
            Assert.False(string.IsNullOrEmpty(etag));
        }
        Assert.Equal(row.Members[0].Item2, all.Members[0].Item2);

        var absent = await table.ReadRowAsync(Entry(33333).SiloAddress);
        Assert.Empty(absent.Members);
        Assert.Equal(all.Version, absent.Version);
    }

    [Fact]
    public async Task Insert_is_refused_for_a_silo_already_in_the_table_and_with_a_stale_table_version()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var table = await InitializedTable(database);
        var entry = Entry(11111);
        var version = (await table.ReadAllAsync()).Version.Next();
        Assert.True(await table.InsertRowAsync(entry, version));

        Assert.False(await table.InsertRowAsync(entry, version), "same entry, stale version");
        Assert.False(await table.InsertRowAsync(Entry(22222), version), "new entry, stale version");
        var current = await table.ReadAllAsync();
        Assert.False(await table.InsertRowAsync(entry, current.Version.Next()), "same entry, current version");
        Assert.False(await table.InsertRowAsync(Entry(33333), new TableVersion(2, "not-an-etag")), "an ETag the store never issued");

        var after = await table.ReadAllAsync();
        Assert.Equal(current.Version, after.Version);
        Assert.Equal(entry.SiloAddress, Assert.Single(after.Members).Item1.SiloAddress);
    }

    [Fact]
    public async Task Update_needs_the_current_table_version_and_the_current_row_etag()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var table = await InitializedTable(database);
        var entry = Entry(11111, SiloStatus.Joining);
        var inserted = (await table.ReadAllAsync()).Version.Next();
        Assert.True(await table.InsertRowAsync(entry, inserted));
        var read = await table.ReadAllAsync();
        var rowEtag = read.Members[0].Item2;

        entry.Status = SiloStatus.Active;
        Assert.False(await table.UpdateRowAsync(entry, rowEtag, inserted), "stale table version");
        Assert.True(await table.UpdateRowAsync(entry, rowEtag, read.Version.Next()));

        var updated = await table.ReadAllAsync();
        Assert.False(await table.UpdateRowAsync(entry, rowEtag, updated.Version.Next()), "stale row ETag");
        Assert.False(await table.UpdateRowAsync(entry, updated.Members[0].Item2, read.Version.Next()), "stale table version");
        Assert.False(await table.UpdateRowAsync(Entry(22222), updated.Members[0].Item2, updated.Version.Next()), "no such row");

        var after = await table.ReadAllAsync();
        Assert.Equal(2, after.Version.Version);
        Assert.Equal(updated.Version, after.Version);
        var (stored, etag) = Assert.Single(after.Members);
        AssertSameEntry(entry, stored);
        Assert.NotEqual(rowEtag, etag);
        Assert.Equal(updated.Members[0].Item2, etag);
    }

    [Fact]
    public async Task A_heartbeat_changes_only_the_i_am_alive_time_and_leaves_read_etags_usable()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var table = await InitializedTable(database);
        var entry = Entry(11111, SiloStatus.Active);
        Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()));
        var before = await table.ReadAllAsync();

        // As Orleans sends it: the address and the time, nothing else.
        var heartbeat = Now.AddMinutes(1);
        await table.UpdateIAmAliveAsync(new MembershipEntry { SiloAddress = entry.SiloAddress, IAmAliveTime = heartbeat });

        var after = await table.ReadAllAsync();
        Assert.Equal(before.Version, after.Version);
        var (stored, etag) = Assert.Single(after.Members);
        Assert.Equal(before.Members[0].Item2, etag);
        Assert.Equal(heartbeat, stored.IAmAliveTime);
        Assert.Equal(DateTimeKind.Utc, stored.IAmAliveTime.Kind);
        Assert.Equal(SiloStatus.Active, stored.Status);
        Assert.Equal(entry.StartTime, stored.StartTime);
        Assert.Equal(entry.SiloName, stored.SiloName);

        // Another silo's vote, written from the entry it read before the heartbeat, goes through and keeps the heartbeat.
        var suspected = before.Members[0].Item1;
        suspected.AddOrUpdateSuspector(Entry(22222).SiloAddress, Now.AddSeconds(30), maxVotes: 2);
        Assert.True(await table.UpdateRowAsync(suspected, before.Members[0].Item2, before.Version.Next()));
        var voted = Assert.Single((await table.ReadAllAsync()).Members).Item1;
        Assert.Single(voted.SuspectTimes ?? []);
        Assert.Equal(heartbeat, voted.IAmAliveTime);
    }

    [Fact]
    public async Task Two_clusters_in_one_file_do_not_see_each_other_and_deleting_one_keeps_the_other()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var blue = await InitializedTable(database, "blue");
        var green = await InitializedTable(database, "green");
        var blueEntry = Entry(11111);
        var greenEntry = Entry(22222);

        Assert.True(await blue.InsertRowAsync(blueEntry, (await blue.ReadAllAsync()).Version.Next()));
        var greenVersion = (await green.ReadAllAsync()).Version;
        Assert.Equal(0, greenVersion.Version);
        Assert.True(await green.InsertRowAsync(greenEntry, greenVersion.Next()));
        Assert.Empty((await green.ReadRowAsync(blueEntry.SiloAddress)).Members);

        Assert.Equal(blueEntry.SiloAddress, Assert.Single((await blue.ReadAllAsync()).Members).Item1.SiloAddress);
        Assert.Equal(greenEntry.SiloAddress, Assert.Single((await green.ReadAllAsync()).Members).Item1.SiloAddress);

        await blue.DeleteMembershipTableEntriesAsync("blue");

        var deleted = await blue.ReadAllAsync();
        Assert.Empty(deleted.Members);
        Assert.Equal(0, deleted.Version.Version);
        Assert.Equal(greenEntry.SiloAddress, Assert.Single((await green.ReadAllAsync()).Members).Item1.SiloAddress);

        // A deleted cluster starts again from version 0, with or without initializing it first.
        Assert.True(await blue.InsertRowAsync(blueEntry, deleted.Version.Next()));
        Assert.Equal(1, (await blue.ReadAllAsync()).Version.Version);
    }

    [Fact]
    public async Task Cleanup_removes_only_dead_entries_whose_last_update_is_before_the_date()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var table = await InitializedTable(database);
        var longAgo = Now.AddDays(-10);
        var deadLongAgo = Entry(11111, SiloStatus.Dead, longAgo);
        var deadRecently = Entry(22222, SiloStatus.Dead);
        var activeLongAgo = Entry(33333, SiloStatus.Active, longAgo);
        var joiningLongAgo = Entry(44444, SiloStatus.Joining, longAgo);
        var votedDeadRecently = Entry(55555, SiloStatus.Dead, longAgo);
        votedDeadRecently.SuspectTimes = [Tuple.Create(activeLongAgo.SiloAddress, Now)];
        var heartbeatRecently = Entry(60000, SiloStatus.Dead, longAgo);
        foreach (var entry in new[] { deadLongAgo, deadRecently, activeLongAgo, joiningLongAgo, votedDeadRecently, heartbeatRecently })
        {
            Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()));
        }
        await table.UpdateIAmAliveAsync(new MembershipEntry { SiloAddress = heartbeatRecently.SiloAddress, IAmAliveTime = Now });

        await table.CleanupDefunctSiloEntriesAsync(new DateTimeOffset(Now.AddDays(-3)));

        var left = (await table.ReadAllAsync()).Members.Select(member => member.Item1.SiloAddress).ToHashSet();
        Assert.Equal(
            new[] { deadRecently, activeLongAgo, joiningLongAgo, votedDeadRecently, heartbeatRecently }.Select(e => e.SiloAddress).ToHashSet(),
            left);
    }

    [Fact]
    public async Task Two_stores_on_one_file_see_each_others_writes_and_refuse_each_others_stale_etags()
    {
        var path = directory.NewDatabasePath();
        await using var firstDatabase = SqliteDatabase.Open(path);
        await using var secondDatabase = SqliteDatabase.Open(path);
        var first = await InitializedTable(firstDatabase);
        var second = await InitializedTable(secondDatabase);
        Assert.Equal((await first.ReadAllAsync()).Version, (await second.ReadAllAsync()).Version);

        var a = Entry(11111, SiloStatus.Active);
        Assert.True(await first.InsertRowAsync(a, (await first.ReadAllAsync()).Version.Next()));
        var seen = await second.ReadAllAsync();
        AssertSameEntry(a, Assert.Single(seen.Members).Item1);

        // Both read the same version; the first to write wins, the other's version ETag is stale.
        Assert.True(await first.InsertRowAsync(Entry(22222), seen.Version.Next()));
        Assert.False(await second.InsertRowAsync(Entry(33333), seen.Version.Next()));

        // Both read the same row; the second updates it, the first's row and version ETags are stale.
        var read = await first.ReadRowAsync(a.SiloAddress);
        var (entry, etag) = read.Members[0];
        entry.Status = SiloStatus.ShuttingDown;
        Assert.True(await second.UpdateRowAsync(entry, etag, read.Version.Next()));
        entry.Status = SiloStatus.Dead;
        Assert.False(await first.UpdateRowAsync(entry, etag, read.Version.Next()));
        Assert.False(await first.UpdateRowAsync(entry, etag, (await first.ReadAllAsync()).Version.Next()));
        Assert.Equal(SiloStatus.ShuttingDown, (await first.ReadRowAsync(a.SiloAddress)).Members[0].Item1.Status);

        // Racing inserts of one entry at one version from both stores: exactly one lands.
        var contested = Entry(44444);
        var version = (await first.ReadAllAsync()).Version.Next();
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
            (i % 2 == 0 ? first : second).InsertRowAsync(contested, version)));
        Assert.Single(results, inserted => inserted);
        var final = await second.ReadAllAsync();
        Assert.Equal(3, final.Members.Count);
        Assert.Equal(version.Version, final.Version.Version);
    }

    [Fact]
    public async Task A_version_3_file_gains_the_membership_tables_as_it_opens_and_keeps_its_rows()
    {
        var path = directory.NewDatabasePath();
        var grain = Stores.Grain("kept");
        var state = new GrainState<TestState>(new TestState { Owner = "alice" });
        await using (var database = SqliteDatabase.Open(path))
        {
            await Stores.GrainStorage(database).WriteStateAsync("state", grain, state);
        }
        // Put the file back the way schema version 3 left it: no membership tables.
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "DROP TABLE membership; DROP TABLE membership_version; PRAGMA user_version = 3;";
            command.ExecuteNonQuery();
        }

        await using var reopened = SqliteDatabase.Open(path);
        var table = await InitializedTable(reopened);
        Assert.True(await table.InsertRowAsync(Entry(11111), (await table.ReadAllAsync()).Version.Next()));
        Assert.Single((await table.ReadAllAsync()).Members);
        var read = new GrainState<TestState>();
        await Stores.GrainStorage(reopened).ReadStateAsync("state", grain, read);
        Assert.Equal("alice", read.State?.Owner);
        var version = reopened.Read(statements => (long)statements.Command("PRAGMA user_version").ExecuteScalar()!);
        Assert.Equal(SqliteSchema.Version, version);
    }

    private static SqliteMembershipTable Table(SqliteDatabase database, string clusterId = "cluster") =>
        new(database, Serializer, Options.Create(new ClusterOptions { ClusterId = clusterId, ServiceId = "storage-tests" }));

    private static async Task<SqliteMembershipTable> InitializedTable(SqliteDatabase database, string clusterId = "cluster")
    {
        var table = Table(database, clusterId);
        await table.InitializeMembershipTableAsync(true);
        return table;
    }

    private static MembershipEntry Entry(int port, SiloStatus status = SiloStatus.Joining, DateTime? time = null)
    {
        var at = time ?? Now;
        var address = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, port), Interlocked.Increment(ref _generation));
        return new MembershipEntry
        {
            SiloAddress = address,
            Status = status,
            SuspectTimes = [],
            ProxyPort = port + 1,
            HostName = "host",
            SiloName = $"silo-{port}",
            RoleName = "role",
            StartTime = at,
            IAmAliveTime = at,
        };
    }

    private static void AssertSameEntry(MembershipEntry expected, MembershipEntry actual)
    {
        Assert.Equal(expected.SiloAddress, actual.SiloAddress);
        Assert.Equal(expected.Status, actual.Status);
        Assert.Equal(expected.SuspectTimes ?? [], actual.SuspectTimes ?? []);
        Assert.Equal(expected.ProxyPort, actual.ProxyPort);
        Assert.Equal(expected.HostName, actual.HostName);
        Assert.Equal(expected.SiloName, actual.SiloName);
        Assert.Equal(expected.RoleName, actual.RoleName);
        Assert.Equal(expected.StartTime, actual.StartTime);
        Assert.Equal(expected.IAmAliveTime, actual.IAmAliveTime);
    }
}
