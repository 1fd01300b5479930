using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Host.Api;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// What /api/chain says of this host's watcher, without a chain or a cluster: a watcher that stands by (another host of
/// the cluster holds the watch) has resumed from nothing, so the block it would start from is not reported.
/// </summary>
public sealed class ChainEndpointTests
{
    private const long StartBlock = 1;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_host_that_never_held_the_watch_reports_no_resumed_from_block()
    {
        var watch = new SwitchedWatchLease(held: false);
        var watcher = NewWatcher(watch, new FixedCursor(lastBlock: 41));

        await watcher.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.WaitForAsync(() => Task.FromResult(watch.Asked), asked => asked >= 2, Patience);

            Assert.False(watcher.IsWatching);
            Assert.Null(ChainEndpoints.ResumedFromBlockHere(watcher));
        }
        finally
        {
            await watcher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task The_watching_host_reports_the_block_after_the_saved_cursor_until_another_host_takes_the_watch()
    {
        var watch = new SwitchedWatchLease(held: true);
        var watcher = NewWatcher(watch, new FixedCursor(lastBlock: 41));

        await watcher.StartAsync(CancellationToken.None);
        try
        {
            // The cursor is loaded before the chain is read, so the unreachable node does not keep it from resuming.
            await Eventually.WaitForAsync(() => Task.FromResult(ChainEndpoints.ResumedFromBlockHere(watcher)), block => block == 42, Patience);

            watch.Held = false;
            await Eventually.WaitForAsync(() => Task.FromResult(watcher.IsWatching), watching => !watching, Patience);

            Assert.Null(ChainEndpoints.ResumedFromBlockHere(watcher));
        }
        finally
        {
            await watcher.StopAsync(CancellationToken.None);
        }
    }

    private static EscrowEventWatcher NewWatcher(IEscrowWatchLease watch, IEscrowEventCursor cursor)
    {
        // Nothing listens there: a read fails at once and the next poll comes in milliseconds.
        var rpc = new ChainRpc("http://127.0.0.1:1", new RpcResilienceOptions { MaxRetryAttempts = 1, BaseDelay = TimeSpan.FromMilliseconds(1) });
        var reader = new EscrowEventReader(rpc, "0x0000000000000000000000000000000000000001");
        var options = new EscrowEventWatcherOptions { StartBlock = StartBlock, PollInterval = TimeSpan.FromMilliseconds(20) };
        return new EscrowEventWatcher(reader, new IgnoringSink(), options, cursor: cursor, lease: watch);
    }

    /// <summary>The cluster's watch, held by this host or by another as the test says.</summary>
    private sealed class SwitchedWatchLease(bool held) : IEscrowWatchLease
    {
        private volatile bool _held = held;
        private int _asked;

        public bool Held
        {
            get => _held;
            set => _held = value;
        }

        public int Asked => Volatile.Read(ref _asked);

        public Task<bool> TryHoldAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _asked);
            return Task.FromResult(_held);
        }

        public Task ReleaseAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class FixedCursor(long lastBlock) : IEscrowEventCursor
    {
        public Task<EscrowWatcherCheckpoint?> LoadAsync(CancellationToken cancellationToken) =>
            Task.FromResult<EscrowWatcherCheckpoint?>(new EscrowWatcherCheckpoint(lastBlock, []));

        public Task SaveAsync(EscrowWatcherCheckpoint checkpoint, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class IgnoringSink : IEscrowEventSink
    {
        public Task OnLeaseOpenedAsync(EscrowLeaseOpened opened, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task OnLeaseSettledAsync(EscrowLeaseSettled settled, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task OnLeaseClosedAsync(EscrowLeaseClosed closed, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task OnWithdrawnAsync(EscrowWithdrawn withdrawn, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task OnRolledBackAsync(EscrowEvent rolledBack, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
