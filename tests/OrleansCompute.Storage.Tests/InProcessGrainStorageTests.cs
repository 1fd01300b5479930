using Orleans.Storage;
using OrleansCompute.Storage.Tests.Infrastructure;

namespace OrleansCompute.Storage.Tests;

/// <summary>The single-silo in-memory store keeps the same promises as the SQLite one: copies, ETags, clears.</summary>
public sealed class InProcessGrainStorageTests
{
    [Fact]
    public async Task A_written_state_reads_back_as_a_copy_with_its_etag()
    {
        var storage = Stores.InProcessStorage();
        var written = new GrainState<TestState>(new TestState { Version = 1, Owner = "alice", Holders = ["lease-1"] });
        await storage.WriteStateAsync("slot", Stores.Grain("a"), written);
        written.State!.Holders.Add("changed after the write");

        var read = new GrainState<TestState>();
        await storage.ReadStateAsync("slot", Stores.Grain("a"), read);

        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal(["lease-1"], read.State!.Holders);
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_is_refused_and_changes_nothing()
    {
        var storage = Stores.InProcessStorage();
        var first = new GrainState<TestState>(new TestState { Owner = "alice" });
        await storage.WriteStateAsync("slot", Stores.Grain("a"), first);
        var stale = new GrainState<TestState>(new TestState { Owner = "mallory" }) { ETag = "stale" };
        var fresh = new GrainState<TestState>(new TestState { Owner = "bob" });

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("slot", Stores.Grain("a"), stale));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("slot", Stores.Grain("a"), fresh));

        var read = new GrainState<TestState>();
        await storage.ReadStateAsync("slot", Stores.Grain("a"), read);
        Assert.Equal("alice", read.State!.Owner);
    }

    [Fact]
    public async Task A_cleared_state_reads_as_fresh_and_a_stale_clear_is_refused()
    {
        var storage = Stores.InProcessStorage();
        var state = new GrainState<TestState>(new TestState { Owner = "alice" });
        await storage.WriteStateAsync("slot", Stores.Grain("a"), state);

        await Assert.ThrowsAsync<InconsistentStateException>(() =>
            storage.ClearStateAsync("slot", Stores.Grain("a"), new GrainState<TestState>(new TestState()) { ETag = "stale" }));
        await storage.ClearStateAsync("slot", Stores.Grain("a"), state);

        var read = new GrainState<TestState>();
        await storage.ReadStateAsync("slot", Stores.Grain("a"), read);
        Assert.False(read.RecordExists);
        Assert.Null(read.ETag);
    }
}
