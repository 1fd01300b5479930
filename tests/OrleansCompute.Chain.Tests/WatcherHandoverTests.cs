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
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Term = TimeSpan.FromSeconds(1);

    private EscrowEventReader Reader() => new(chain.Rpc, chain.Contracts.EscrowAddress);

    private EscrowEventWatcher Watcher(long start, RecordingSink sink, SharedCursor cursor, IEscrowWatchLease lease) =>
        new(Reader(), sink, new EscrowEventWatcherOptions { StartBlock = start, PollInterval = TimeSpan.FromMilliseconds(50) }, cursor: cursor, lease: lease);

    [Fact]
    public async Task One_watcher_reads_at_a_time_and_a_stopped_one_hands_over_so_every_event_arrives_once()
    {
        var start = await chain.LatestBlockAsync() + 1;
        var (watch, cursor) = (new SharedWatch(Term), new SharedCursor());
        var (sinkA, sinkB) = (new RecordingSink(), new RecordingSink());
        var a = Watcher(start, sinkA, cursor, watch.For("a"));
        var b = Watcher(start, sinkB, cursor, watch.For("b"));
        await a.StartAsync(CancellationToken.None);
        await UntilAsync(() => a.IsWatching, "the first watcher to take the watch");
        await b.StartAsync(CancellationToken.None);
        try
        {
            var first = await RunALeaseAsync(tenant: 2, provider: 1);
            await a.WaitForBlockAsync(first, Timeout());
            Assert.False(b.IsWatching);
            Assert.Empty(sinkB.Events);

            await a.StopAsync(CancellationToken.None);
            var second = await RunALeaseAsync(tenant: 2, provider: 1);
            await UntilAsync(() => b.IsWatching && b.LastProcessedBlock >= second, "the second watcher to take over and read on");

            Assert.True(b.ResumedFromBlock > first, $"the second watcher read from block {b.ResumedFromBlock}, not after the cursor ({first})");
            Assert.Equal(await Reader().ReadAsync(start, second), [.. sinkA.Events, .. sinkB.Events]);
        }
        finally
        {
            await a.StopAsync(CancellationToken.None);
            await b.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_watcher_that_dies_without_handing_over_is_replaced_after_the_term()
    {
        var start = await chain.LatestBlockAsync() + 1;
        var (watch, cursor) = (new SharedWatch(Term), new SharedCursor());
        var (sinkA, sinkB) = (new RecordingSink(), new RecordingSink());
        var a = Watcher(start, sinkA, cursor, watch.For("a"));
        var b = Watcher(start, sinkB, cursor, watch.For("b"));
        await a.StartAsync(CancellationToken.None);
        await UntilAsync(() => a.IsWatching, "the first watcher to take the watch");
        await b.StartAsync(CancellationToken.None);
        try
        {
            var first = await RunALeaseAsync(tenant: 3, provider: 2);
            await a.WaitForBlockAsync(first, Timeout());

            // Cut off: its host can no longer reach the watch (nor anything else), so it neither renews nor releases.
            watch.CutOff("a");
            var cutAt = DateTime.UtcNow;
            var second = await RunALeaseAsync(tenant: 3, provider: 2);
            await UntilAsync(() => b.IsWatching && b.LastProcessedBlock >= second, "the second watcher to take over");

            Assert.True(DateTime.UtcNow - cutAt >= Term * 0.9, "the watch changed hands before the term ran out");
            Assert.Equal(await Reader().ReadAsync(start, second), [.. sinkA.Events, .. sinkB.Events]);
        }
        finally
        {
            await a.StopAsync(CancellationToken.None);
            await b.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Opens a lease and settles it with a final voucher; returns the last block.</summary>
    private async Task<long> RunALeaseAsync(int tenant, int provider)
    {
        var leaseId = await chain.OpenLeaseAsync(tenant, provider, Credits.FromCredits(10m));
        await chain.Escrow.SettleAsync(chain.Operator, chain.SignVoucher(tenant, leaseId, Credits.FromCredits(4m), isFinal: true));
        return await chain.LatestBlockAsync();
    }

    private static CancellationToken Timeout() => new CancellationTokenSource(Patience).Token;

    private static async Task UntilAsync(Func<bool> done, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!done())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out waiting for {what}.");
            await Task.Delay(20);
        }
    }

    /// <summary>The watch as the cursor grain keeps it: one holder, renewed within its term, released on a clean stop.</summary>
    private sealed class SharedWatch(TimeSpan term)
    {
        private readonly TimeSpan _term = term;
        private readonly HashSet<string> _cutOff = [];
        private (string Holder, DateTime Until)? _held;

        public IEscrowWatchLease For(string host) => new Lease(this, host);

        public void CutOff(string host)
        {
            lock (this) _cutOff.Add(host);
        }

        private sealed class Lease(SharedWatch watch, string host) : IEscrowWatchLease
        {
            public Task<bool> TryHoldAsync(CancellationToken cancellationToken)
            {
                lock (watch)
                {
                    if (watch._cutOff.Contains(host)) throw new IOException($"{host} cannot reach the watch");
                    if (watch._held is { } held && held.Holder != host && held.Until > DateTime.UtcNow) return Task.FromResult(false);
                    watch._held = (host, DateTime.UtcNow + watch._term);
                    return Task.FromResult(true);
                }
            }

            public Task ReleaseAsync(CancellationToken cancellationToken)
            {
                lock (watch)
                {
                    if (watch._held?.Holder == host) watch._held = null;
                }
                return Task.CompletedTask;
            }
        }
    }

    private sealed class SharedCursor : IEscrowEventCursor
    {
        private string? _saved;

        public Task<EscrowWatcherCheckpoint?> LoadAsync(CancellationToken cancellationToken)
        {
            lock (this)
                return Task.FromResult(_saved is { } saved ? System.Text.Json.JsonSerializer.Deserialize<Saved>(saved)!.ToCheckpoint() : null);
        }

        public Task SaveAsync(EscrowWatcherCheckpoint checkpoint, CancellationToken cancellationToken)
        {
            lock (this) _saved = System.Text.Json.JsonSerializer.Serialize(new Saved(checkpoint.LastBlock, WatchedBlock.ToJson(checkpoint.RecentBlocks)));
            return Task.CompletedTask;
        }

        private sealed record Saved(long LastBlock, string RecentBlocks)
        {
            public EscrowWatcherCheckpoint ToCheckpoint() => new(LastBlock, WatchedBlock.FromJson(RecentBlocks));
        }
    }

    private sealed class RecordingSink : IEscrowEventSink
    {
        private readonly List<EscrowEvent> _events = [];

        public IReadOnlyList<EscrowEvent> Events
        {
            get
            {
                lock (_events) return _events.ToArray();
            }
        }

        public Task OnLeaseOpenedAsync(EscrowLeaseOpened opened, CancellationToken cancellationToken) => Record(opened);
        public Task OnLeaseSettledAsync(EscrowLeaseSettled settled, CancellationToken cancellationToken) => Record(settled);
        public Task OnLeaseClosedAsync(EscrowLeaseClosed closed, CancellationToken cancellationToken) => Record(closed);
        public Task OnWithdrawnAsync(EscrowWithdrawn withdrawn, CancellationToken cancellationToken) => Record(withdrawn);
        public Task OnRolledBackAsync(EscrowEvent rolledBack, CancellationToken cancellationToken) => throw new InvalidOperationException("no reorganization here");

        private Task Record(EscrowEvent e)
        {
            lock (_events) _events.Add(e);
            return Task.CompletedTask;
        }
    }
}
