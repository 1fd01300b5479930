using Orleans.Storage;
using OrleansCompute.Storage.Database;
using OrleansCompute.Storage.Tests.Infrastructure;

namespace OrleansCompute.Storage.Tests;

public sealed class GrainStorageTests(TempDirectory directory) : IClassFixture<TempDirectory>
{
    private static readonly TestState Alice = new() { Version = 1, Owner = "alice", Holders = ["lease-1", "lease-2"] };
    private static readonly TestState Bob = new() { Version = 2, Owner = "bob" };

    [Fact]
    public async Task State_round_trips_through_the_file_after_the_store_is_reopened()
    {
        var path = directory.NewDatabasePath();
        var written = new GrainState<TestState>(Alice);
        await using (var database = SqliteDatabase.Open(path))
        {
            await Stores.GrainStorage(database).WriteStateAsync("slot", Stores.Grain("a"), written);
        }

        await using var reopened = SqliteDatabase.Open(path);
        var read = await Read(reopened, "slot", "a");

        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal(Alice.Owner, read.State!.Owner);
        Assert.Equal(Alice.Holders, read.State!.Holders);
    }

    [Fact]
    public async Task A_state_never_written_reads_as_a_fresh_state_without_an_etag()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());

        var read = await Read(database, "slot", "nobody");

        Assert.False(read.RecordExists);
        Assert.Null(read.ETag);
        Assert.Equal(new TestState().Owner, read.State!.Owner);
    }

    [Fact]
    public async Task Each_write_gets_a_new_etag_and_the_last_write_is_what_is_read()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var storage = Stores.GrainStorage(database);
        var state = new GrainState<TestState>(Alice);

        await storage.WriteStateAsync("slot", Stores.Grain("a"), state);
        var first = state.ETag;
        state.State = Bob;
        await storage.WriteStateAsync("slot", Stores.Grain("a"), state);

        Assert.NotNull(first);
        Assert.NotEqual(first, state.ETag);
        var read = await Read(database, "slot", "a");
        Assert.Equal("bob", read.State!.Owner);
        Assert.Equal(state.ETag, read.ETag);
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_throws_and_changes_nothing()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var storage = Stores.GrainStorage(database);
        var current = new GrainState<TestState>(Alice);
        await storage.WriteStateAsync("slot", Stores.Grain("a"), current);
        var stale = new GrainState<TestState>(Bob) { ETag = current.ETag };
        current.State = Alice with { Version = 3 };
        await storage.WriteStateAsync("slot", Stores.Grain("a"), current);

        var conflict = await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("slot", Stores.Grain("a"), stale));

        Assert.Equal(current.ETag, conflict.StoredEtag);
        var read = await Read(database, "slot", "a");
        Assert.Equal(3, read.State!.Version);
        Assert.Equal("alice", read.State!.Owner);
        Assert.Equal(current.ETag, read.ETag);
    }

    [Fact]
    public async Task A_first_write_without_an_etag_is_refused_when_the_state_already_exists()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var storage = Stores.GrainStorage(database);
        await storage.WriteStateAsync("slot", Stores.Grain("a"), new GrainState<TestState>(Alice));

        await Assert.ThrowsAsync<InconsistentStateException>(() =>
            storage.WriteStateAsync("slot", Stores.Grain("a"), new GrainState<TestState>(Bob)));

        Assert.Equal("alice", (await Read(database, "slot", "a")).State!.Owner);
    }

    [Fact]
    public async Task A_malformed_etag_is_refused_like_a_stale_one()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var storage = Stores.GrainStorage(database);
        await storage.WriteStateAsync("slot", Stores.Grain("a"), new GrainState<TestState>(Alice));

        await Assert.ThrowsAsync<InconsistentStateException>(() =>
            storage.WriteStateAsync("slot", Stores.Grain("a"), new GrainState<TestState>(Bob) { ETag = "W/\"not-ours\"" }));
    }

    [Fact]
    public async Task Of_two_writes_from_the_same_etag_in_one_batch_the_first_lands_and_the_second_is_refused()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var storage = Stores.GrainStorage(database);
        var original = new GrainState<TestState>(Alice);
        await storage.WriteStateAsync("slot", Stores.Grain("a"), original);

        var first = storage.WriteStateAsync("slot", Stores.Grain("a"), new GrainState<TestState>(Bob) { ETag = original.ETag });
        var second = storage.WriteStateAsync("slot", Stores.Grain("a"), new GrainState<TestState>(Alice with { Version = 9 }) { ETag = original.ETag });

        await first;
        await Assert.ThrowsAsync<InconsistentStateException>(() => second);
        Assert.Equal("bob", (await Read(database, "slot", "a")).State!.Owner);
    }

    [Fact]
    public async Task Clear_removes_the_state_and_a_later_write_starts_it_afresh()
    {
        var path = directory.NewDatabasePath();
        await using var database = SqliteDatabase.Open(path);
        var storage = Stores.GrainStorage(database);
        var state = new GrainState<TestState>(Alice);
        await storage.WriteStateAsync("slot", Stores.Grain("a"), state);
        var etagBeforeClear = state.ETag;

        await storage.ClearStateAsync("slot", Stores.Grain("a"), state);

        Assert.Null(state.ETag);
        Assert.False(state.RecordExists);
        var cleared = await Read(database, "slot", "a");
        Assert.False(cleared.RecordExists);
        Assert.Null(cleared.ETag);

        state.State = Bob;
        await storage.WriteStateAsync("slot", Stores.Grain("a"), state);
        Assert.NotEqual(etagBeforeClear, state.ETag);
        Assert.Equal("bob", (await Read(database, "slot", "a")).State!.Owner);
    }

    [Fact]
    public async Task A_clear_with_a_stale_etag_throws_and_keeps_the_state()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var storage = Stores.GrainStorage(database);
        var current = new GrainState<TestState>(Alice);
        await storage.WriteStateAsync("slot", Stores.Grain("a"), current);
        var stale = new GrainState<TestState>(Alice) { ETag = current.ETag };
        await storage.WriteStateAsync("slot", Stores.Grain("a"), current);

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync("slot", Stores.Grain("a"), stale));
        await Assert.ThrowsAsync<InconsistentStateException>(() =>
            storage.ClearStateAsync("slot", Stores.Grain("a"), new GrainState<TestState>(Alice)));

        var read = await Read(database, "slot", "a");
        Assert.True(read.RecordExists);
        Assert.Equal(current.ETag, read.ETag);
    }

    [Fact]
    public async Task An_etag_from_before_a_clear_does_not_match_the_state_written_after_it()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        var storage = Stores.GrainStorage(database);
        var state = new GrainState<TestState>(Alice);
        await storage.WriteStateAsync("slot", Stores.Grain("a"), state);
        var fromBeforeClear = new GrainState<TestState>(Bob) { ETag = state.ETag };
        await storage.ClearStateAsync("slot", Stores.Grain("a"), state);
        await storage.WriteStateAsync("slot", Stores.Grain("a"), state);

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("slot", Stores.Grain("a"), fromBeforeClear));
    }

    [Fact]
    public async Task States_are_kept_apart_by_storage_name_state_name_and_grain()
    {
        await using var database = SqliteDatabase.Open(directory.NewDatabasePath());
        await Stores.GrainStorage(database, "market").WriteStateAsync("slot", Stores.Grain("a"), new GrainState<TestState>(Alice));

        Assert.True((await Read(database, "slot", "a", storageName: "market")).RecordExists);
        Assert.False((await Read(database, "slot", "a", storageName: "other")).RecordExists);
        Assert.False((await Read(database, "pool", "a", storageName: "market")).RecordExists);
        Assert.False((await Read(database, "slot", "b", storageName: "market")).RecordExists);
    }

    private static async Task<GrainState<TestState>> Read(SqliteDatabase database, string stateName, string grain, string storageName = "market")
    {
        var state = new GrainState<TestState>(new TestState());
        await Stores.GrainStorage(database, storageName).ReadStateAsync(stateName, Stores.Grain(grain), state);
        return state;
    }
}
