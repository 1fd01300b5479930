using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Tests.Fixtures;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>
/// Two hosts' watchers sharing a cursor and a watch, as in <see cref="WatcherHandoverTests"/>, where the first outlasts its
/// watch in the middle of a poll (a slow grain, a slow node): once another host has taken over, the first must deliver
/// nothing more, above all no rollback, which is not idempotent across watchers. On the chain that reorganizes.
/// </summary>
[Collection(ReorgChainCollection.Name)]
public sealed class WatcherFencingTests(ChainFixture chain)
{
    private static readonly TimeSpan Term = TimeSpan.FromSeconds(1);

    private EscrowEventReader Reader() => new(chain.Rpc, chain.Contracts.EscrowAddress);

    private EscrowEventWatcher Watcher(long start, IEscrowEventSink sink, IEscrowEventCursor cursor, IEscrowWatchLease watch)
    {
        var watcher = new EscrowEventWatcher(Reader(), sink,
            new EscrowEventWatcherOptions { StartBlock = start, PollInterval = TimeSpan.FromMilliseconds(50), MaxBlocksPerPoll = 1 },
            cursor: cursor, lease: watch);
        watcher.Reorganized += _ => chain.Operator.ResyncNonce();
        return watcher;
    }

    [Fact]
    public async Task A_watcher_that_outlasted_its_watch_mid_poll_delivers_nothing_more_and_rolls_nothing_back()
    {
        var start = await chain.LatestBlockAsync() + 1;
        var leaseId = await chain.OpenLeaseAsync(tenant: 4, provider: 2, Credits.FromCredits(10m));
        var voucher = chain.SignVoucher(4, leaseId, Credits.FromCredits(7m), isFinal: true);
        await chain.Escrow.SettleAsync(chain.Operator, voucher);
        var settled = await chain.LatestBlockAsync();
        await chain.Cheats.MineAsync();
        await chain.Cheats.MineAsync();

        // The first host's sink hangs on the payment, in the middle of a poll that has more blocks to read.
        var (stuck, unstick) = (new TaskCompletionSource(), new TaskCompletionSource());
        var sinkA = new FoldingSink
        {
            BeforeFold = async e =>
            {
                if (e is not EscrowLeaseSettled) return;
                stuck.TrySetResult();
                await unstick.Task;
            },
        };
        var sinkB = new FoldingSink();
        var (watch, cursor) = (new SharedWatch(Term), new StoredCursor());
        var a = Watcher(start, sinkA, cursor, watch.For("a"));
        var b = Watcher(start, sinkB, cursor, watch.For("b"));
        await a.StartAsync(CancellationToken.None);
        await stuck.Task.WaitAsync(Patiently.Timeout());
        await b.StartAsync(CancellationToken.None);
        try
        {
            // The second host takes over after the term, the chain drops the settlement, and the second host rolls it back and
            // folds it in again when it is settled anew.
            var head = await chain.LatestBlockAsync();
            await b.WaitForBlockAsync(head, Patiently.Timeout());
            await chain.Cheats.ReorgAsync(depth: (int)(head - settled + 1));
            await Patiently.UntilAsync(() => b.Reorganizations == 1, "the second watcher to roll back the reorganization");
            await chain.Escrow.SettleAsync(chain.Operator, voucher);
            var resettled = await chain.LatestBlockAsync();
            await b.WaitForBlockAsync(resettled, Patiently.Timeout());

            unstick.SetResult();
            await Patiently.UntilAsync(() => !a.IsWatching, "the first watcher to find it no longer holds the watch");
            await Task.Delay(Term);

            // The payment it hung on was in flight; after it, nothing: not the close, not a rollback, not its cursor.
            Assert.Empty(sinkA.RolledBack);
            Assert.Equal(["LeaseOpened", "LeaseSettled"], sinkA.Folded.Select(Kind));
            Assert.Equal(0, a.Reorganizations);
            Assert.Equal(await Reader().ReadAsync(settled, resettled), sinkB.Folded);
            Assert.Equal(resettled, (await cursor.LoadAsync(CancellationToken.None))!.LastBlock);
            Assert.Equal(Credits.FromCredits(7m), (await chain.GetLeaseAsync(4, leaseId))!.Paid);
        }
        finally
        {
            unstick.TrySetResult();
            await a.StopAsync(CancellationToken.None);
            await b.StopAsync(CancellationToken.None);
        }
    }

    private static string Kind(EscrowEvent e) => e.GetType().Name["Escrow".Length..];
}
