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
        var cursor = Cursor();
        Assert.True(await cursor.TryWatchAsync("host-a", Term));
        for (var i = 0; i < 4; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            Assert.True(await cursor.TryWatchAsync("host-a", Term));
            Assert.False(await cursor.TryWatchAsync("host-b", Term));
        }

        await Task.Delay(Term + TimeSpan.FromMilliseconds(300));
        Assert.Null(await cursor.GetWatchAsync());
        Assert.True(await cursor.TryWatchAsync("host-b", Term));
        Assert.False(await cursor.TryWatchAsync("host-a", Term));
    }
}
