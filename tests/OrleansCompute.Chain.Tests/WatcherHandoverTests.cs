using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Tests.Fixtures;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>
/// Two hosts' watchers on one escrow, sharing a cursor and a watch lease as the hosts of a cluster share the cursor grain:
/// one reads the chain at a time, and when it stops or dies the other takes over from the saved cursor, so every event
/// reaches the market once.
/// </summary>
[Collection(ChainCollection.Name)]
public sealed class WatcherHandoverTests(ChainFixture chain)
{
    private static readonly TimeSpan Term = TimeSpan.FromSeconds(1);

    private EscrowEventReader Reader() => new(chain.Rpc, chain.Contracts.EscrowAddress);

    /// <summary>
    /// Two hosts' watchers from the next block on, sharing a cursor and a watch granted for <paramref name="term"/> (1 s
    /// unless given); the first holds the watch.
    /// </summary>
    private async Task<Pair> StartPairAsync(RecordingSink? firstSink = null, TimeSpan? term = null)
    {
        var start = await chain.LatestBlockAsync() + 1;
        var (watch, cursor) = (new SharedWatch(term ?? Term), new StoredCursor());
        EscrowEventWatcher Watcher(RecordingSink sink, string host) =>
            new(Reader(), sink, new EscrowEventWatcherOptions { StartBlock = start, PollInterval = TimeSpan.FromMilliseconds(50) },
                cursor: cursor, lease: watch.For(host));
        var (sinkA, sinkB) = (firstSink ?? new RecordingSink(), new RecordingSink());
        var pair = new Pair(start, watch, Watcher(sinkA, "a"), Watcher(sinkB, "b"), sinkA, sinkB);
        await pair.A.StartAsync(CancellationToken.None);
        await Patiently.UntilAsync(() => pair.A.IsWatching, "the first watcher to take the watch");
        await pair.B.StartAsync(CancellationToken.None);
        return pair;
    }

    private sealed record Pair(long Start, SharedWatch Watch, EscrowEventWatcher A, EscrowEventWatcher B, RecordingSink SinkA, RecordingSink SinkB)
    {
        /// <summary>Every event either watcher delivered, the first's then the second's.</summary>
        public IReadOnlyList<EscrowEvent> Delivered => [.. SinkA.Events, .. SinkB.Events];

        public async Task StopAsync()
        {
            await A.StopAsync(CancellationToken.None);
            await B.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task One_watcher_reads_at_a_time_and_a_stopped_one_hands_over_so_every_event_arrives_once()
    {
        // A long term: the second may not take over while the first renews, however slow a poll of the first (a loaded
        // machine, a slow node) is; a stopped watcher hands the watch over at once, so this test waits for no term.
        var pair = await StartPairAsync(term: TimeSpan.FromMinutes(1));
        try
        {
            var first = await RunALeaseAsync(tenant: 2, provider: 1);
            await pair.A.WaitForBlockAsync(first, Patiently.Timeout());
            Assert.False(pair.B.IsWatching);
            Assert.Empty(pair.SinkB.Events);

            await pair.A.StopAsync(CancellationToken.None);
            var second = await RunALeaseAsync(tenant: 2, provider: 1);
            await Patiently.UntilAsync(() => pair.B.IsWatching && pair.B.LastProcessedBlock >= second, "the second watcher to take over and read on");

            Assert.True(pair.B.ResumedFromBlock > first, $"the second watcher read from block {pair.B.ResumedFromBlock}, not after the cursor ({first})");
            Assert.Equal(await Reader().ReadAsync(pair.Start, second), pair.Delivered);
        }
        finally
        {
            await pair.StopAsync();
        }
    }

    [Fact]
    public async Task A_watcher_that_dies_without_handing_over_is_replaced_after_the_term()
    {
        var pair = await StartPairAsync();
        try
        {
            var first = await RunALeaseAsync(tenant: 3, provider: 2);
            await pair.A.WaitForBlockAsync(first, Patiently.Timeout());

            // Cut off: its host can no longer reach the watch (nor anything else), so it neither renews nor releases.
            pair.Watch.CutOff("a");
            var second = await RunALeaseAsync(tenant: 3, provider: 2);
            await Patiently.UntilAsync(() => pair.B.IsWatching && pair.B.LastProcessedBlock >= second, "the second watcher to take over");

            // b took a watch whose term had run out: a, cut off, never gave it up. (On a loaded machine a slow renewal may
            // have let b take it before the cut too; the last hand-over is what the cut forced.)
            Assert.Equal(("b", "a"), pair.Watch.TakenOverAfterTerm[^1]);
            Assert.Equal(await Reader().ReadAsync(pair.Start, second), pair.Delivered);
        }
        finally
        {
            await pair.StopAsync();
        }
    }

    [Fact]
    public async Task A_watcher_whose_watch_passed_to_another_host_and_back_mid_poll_starts_over_from_the_saved_cursor()
    {
        // The first host's sink hangs on the payment, in the middle of a range.
        var (stuck, unstick) = (new TaskCompletionSource(), new TaskCompletionSource());
        var sinkA = new RecordingSink
        {
            BeforeRecord = async e =>
            {
                if (e is not EscrowLeaseSettled) return;
                stuck.TrySetResult();
                await unstick.Task;
            },
        };
        var pair = await StartPairAsync(sinkA);
        try
        {
            var first = await RunALeaseAsync(tenant: 4, provider: 0);
            await stuck.Task.WaitAsync(Patiently.Timeout());

            // Meanwhile the second host takes the watch after its term, reads the lease, and stops, handing the watch back.
            await Patiently.UntilAsync(() => pair.B.IsWatching && pair.B.LastProcessedBlock >= first, "the second watcher to take over and read on");
            await pair.B.StopAsync(CancellationToken.None);
            unstick.SetResult();

            // The first host holds the watch again, in a later term: nothing more of its stale range, it resumes after the cursor.
            await Patiently.UntilAsync(() => pair.A.IsWatching && pair.A.ResumedFromBlock > first, "the first watcher to start over from the saved cursor");
            Assert.Equal(["LeaseOpened", "LeaseSettled"], sinkA.Events.Select(e => e.GetType().Name["Escrow".Length..]));
            var second = await RunALeaseAsync(tenant: 4, provider: 0);
            await pair.A.WaitForBlockAsync(second, Patiently.Timeout());
            Assert.Equal(await Reader().ReadAsync(first + 1, second), sinkA.Events.Skip(2));
            Assert.Equal(await Reader().ReadAsync(pair.B.ResumedFromBlock, first), pair.SinkB.Events);
        }
        finally
        {
            unstick.TrySetResult();
            await pair.StopAsync();
        }
    }

    /// <summary>Opens a lease and settles it with a final voucher; returns the last block.</summary>
    private async Task<long> RunALeaseAsync(int tenant, int provider)
    {
        var leaseId = await chain.OpenLeaseAsync(tenant, provider, Credits.FromCredits(10m));
        await chain.Escrow.SettleAsync(chain.Operator, chain.SignVoucher(tenant, leaseId, Credits.FromCredits(4m), isFinal: true));
        return await chain.LatestBlockAsync();
    }
}
