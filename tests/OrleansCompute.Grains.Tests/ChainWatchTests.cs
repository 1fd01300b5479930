using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>
/// The cursor grain's watch: of the hosts of a cluster, one at a time reads the escrow's events and moves the cursor; the
/// others get it when it is given up or lapses.
/// </summary>
[Collection(MarketClusterCollection.Name)]
public sealed class ChainWatchTests(ClusterFixture cluster)
{
    private static readonly TimeSpan Term = TimeSpan.FromSeconds(2);

    private IChainCursorGrain Cursor() => cluster.Grains.GetGrain<IChainCursorGrain>("0x" + Guid.NewGuid().ToString("N")[..20]);

    [Fact]
    public async Task One_host_holds_the_watch_and_only_it_moves_the_cursor_until_it_gives_the_watch_up()
    {
        var cursor = Cursor();
        Assert.True(await cursor.TryWatchAsync("host-a", Term));
        Assert.False(await cursor.TryWatchAsync("host-b", Term));
        Assert.Equal("host-a", (await cursor.GetWatchAsync())!.Watcher);

        await cursor.SaveAsync(new ChainCursor(10, "[]"), "host-a");
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => cursor.SaveAsync(new ChainCursor(20, "[]"), "host-b"));
        Assert.Contains("host-a watches", refused.Message);
        Assert.Equal(10, (await cursor.GetAsync())!.LastBlock);

        await cursor.StopWatchingAsync("host-b");
        Assert.Equal("host-a", (await cursor.GetWatchAsync())!.Watcher);
        await cursor.StopWatchingAsync("host-a");
        Assert.Null(await cursor.GetWatchAsync());
        Assert.True(await cursor.TryWatchAsync("host-b", Term));
        await cursor.SaveAsync(new ChainCursor(20, "[]"), "host-b");
        Assert.Equal(20, (await cursor.GetAsync())!.LastBlock);
    }

    [Fact]
    public async Task A_renewed_watch_holds_and_one_not_renewed_within_its_term_passes_to_the_next_host()
    {
        // Each check waits past a short term, never for a call to come soon enough: a renewal for long outlasts the term it
        // was granted in, and one for a short term lapses once that term is over, however slow the machine.
        var (shortTerm, longTerm) = (TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
        var cursor = Cursor();
        var granted = await cursor.HoldWatchAsync("host-a", shortTerm);
        Assert.NotNull(granted);

        var renewed = await cursor.HoldWatchAsync("host-a", longTerm);
        await Task.Delay(shortTerm + TimeSpan.FromMilliseconds(300));
        Assert.Equal(("host-a", granted.Term), (renewed!.Watcher, renewed.Term));
        Assert.False(await cursor.TryWatchAsync("host-b", longTerm));
        Assert.Equal("host-a", (await cursor.GetWatchAsync())!.Watcher);

        await cursor.HoldWatchAsync("host-a", shortTerm);
        await Task.Delay(shortTerm + TimeSpan.FromMilliseconds(300));
        Assert.Null(await cursor.GetWatchAsync());
        Assert.True(await cursor.TryWatchAsync("host-b", longTerm));
        Assert.False(await cursor.TryWatchAsync("host-a", longTerm));
    }
}
