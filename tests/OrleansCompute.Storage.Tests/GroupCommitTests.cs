using OrleansCompute.Storage.Database;
using OrleansCompute.Storage.Tests.Infrastructure;

namespace OrleansCompute.Storage.Tests;

public sealed class GroupCommitTests(TempDirectory directory) : IClassFixture<TempDirectory>
{
    [Fact]
    public async Task Concurrent_writes_from_many_grains_all_land_and_share_transactions()
    {
        const int grains = 500;
        const int writesPerGrain = 4;
        var path = directory.NewDatabasePath();
        await using (var database = SqliteDatabase.Open(path))
        {
            var storage = Stores.GrainStorage(database);

            // Like grains: each writes its own state in turn, all of them at once.
            await Task.WhenAll(Enumerable.Range(0, grains).Select(grain => Task.Run(async () =>
            {
                var state = new GrainState<TestState>(new TestState { Owner = $"grain-{grain}" });
                for (var version = 1; version <= writesPerGrain; version++)
                {
                    state.State = state.State! with { Version = version };
                    await storage.WriteStateAsync("slot", Stores.Grain($"g{grain}"), state);
                }
            })));

            var statistics = database.Statistics;
            Assert.Equal(grains * writesPerGrain, statistics.Writes);
            Assert.True(statistics.Writes >= 10 * statistics.Transactions,
                $"{statistics.Writes} writes took {statistics.Transactions} transactions: they were not group-committed");
        }

        await using var reopened = SqliteDatabase.Open(path);
        var reader = Stores.GrainStorage(reopened);
        for (var grain = 0; grain < grains; grain++)
        {
            var state = new GrainState<TestState>(new TestState());
            await reader.ReadStateAsync("slot", Stores.Grain($"g{grain}"), state);
            Assert.Equal(writesPerGrain, state.State!.Version);
            Assert.Equal($"grain-{grain}", state.State!.Owner);
        }
    }

    [Fact]
    public async Task A_write_queued_after_the_store_is_closed_is_refused()
    {
        var database = SqliteDatabase.Open(directory.NewDatabasePath());
        await database.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() =>
            Stores.GrainStorage(database).WriteStateAsync("slot", Stores.Grain("a"), new GrainState<TestState>(new TestState())));
    }
}
