// What the watcher tests hand an EscrowEventWatcher in place of the host's grains: a sink that records, a cursor kept
// as the host's store keeps it, and patient waiting for what the watcher does on its own timer.
using OrleansCompute.Chain.Escrow;

namespace OrleansCompute.Chain.Tests.Fixtures;

/// <summary>
/// Every event delivered, in order; optionally fails one delivery, as a busy grain would, or runs <see cref="BeforeRecord"/>
/// first, for a test that makes something happen while the watcher is in the middle of a poll.
/// </summary>
public sealed class RecordingSink : IEscrowEventSink
{
    private readonly List<EscrowEvent> _events = [];
    private int _calls;

    public int? FailOnCall { get; init; }
    public Func<EscrowEvent, Task>? BeforeRecord { get; init; }
    public int Failures { get; private set; }

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
    public Task OnRolledBackAsync(EscrowEvent rolledBack, CancellationToken cancellationToken) =>
        throw new InvalidOperationException($"nothing reorganizes this chain, yet {rolledBack} was rolled back");

    private async Task Record(EscrowEvent e)
    {
        if (Interlocked.Increment(ref _calls) == FailOnCall)
        {
            Failures++;
            throw new InvalidOperationException("the grain was busy");
        }
        if (BeforeRecord is not null) await BeforeRecord(e);
        lock (_events) _events.Add(e);
    }
}

/// <summary>
/// What a sink holds: every event delivered and not rolled back, and every rollback in the order it came. A delivery first
/// runs <see cref="BeforeFold"/>, for a test that makes something happen while the watcher is in the middle of a poll.
/// </summary>
public sealed class FoldingSink : IEscrowEventSink
{
    private readonly List<EscrowEvent> _folded = [];
    private readonly List<EscrowEvent> _rolledBack = [];

    public Func<EscrowEvent, Task>? BeforeFold { get; init; }

    public IReadOnlyList<EscrowEvent> Folded
    {
        get
        {
            lock (_folded) return _folded.ToArray();
        }
    }

    public IReadOnlyList<EscrowEvent> RolledBack
    {
        get
        {
            lock (_folded) return _rolledBack.ToArray();
        }
    }

    public Task OnLeaseOpenedAsync(EscrowLeaseOpened opened, CancellationToken cancellationToken) => Fold(opened);
    public Task OnLeaseSettledAsync(EscrowLeaseSettled settled, CancellationToken cancellationToken) => Fold(settled);
    public Task OnLeaseClosedAsync(EscrowLeaseClosed closed, CancellationToken cancellationToken) => Fold(closed);
    public Task OnWithdrawnAsync(EscrowWithdrawn withdrawn, CancellationToken cancellationToken) => Fold(withdrawn);

    public Task OnRolledBackAsync(EscrowEvent rolledBack, CancellationToken cancellationToken)
    {
        lock (_folded)
        {
            _rolledBack.Add(rolledBack);
            Xunit.Assert.True(_folded.Remove(rolledBack), $"{rolledBack} was rolled back but never delivered");
        }
        return Task.CompletedTask;
    }

    private async Task Fold(EscrowEvent e)
    {
        if (BeforeFold is not null) await BeforeFold(e);
        lock (_folded) _folded.Add(e);
    }
}

/// <summary>
/// Keeps the checkpoint as the host's store does: the recent blocks as JSON, read back on load. One saved value replaced
/// whole, so two watchers sharing it (as the hosts of a cluster share the cursor grain) never see half a checkpoint.
/// </summary>
public sealed class StoredCursor : IEscrowEventCursor
{
    private volatile Saved? _saved;

    public Task<EscrowWatcherCheckpoint?> LoadAsync(CancellationToken cancellationToken) =>
        Task.FromResult(_saved is { } saved ? new EscrowWatcherCheckpoint(saved.LastBlock, WatchedBlock.FromJson(saved.RecentBlocks)) : null);

    public Task SaveAsync(EscrowWatcherCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        _saved = new Saved(checkpoint.LastBlock, WatchedBlock.ToJson(checkpoint.RecentBlocks));
        return Task.CompletedTask;
    }

    private sealed record Saved(long LastBlock, string RecentBlocks);
}

/// <summary>
/// The watch as the cursor grain keeps it: one holder, renewed within its term, released on a clean stop, and numbered: each
/// time it passes to a holder it gets a new term number.
/// </summary>
public sealed class SharedWatch(TimeSpan term)
{
    private readonly TimeSpan _term = term;
    private readonly HashSet<string> _cutOff = [];
    private (string Holder, DateTime Until, long Term)? _held;
    private long _terms;
    private readonly List<(string By, string From)> _takenOverAfterTerm = [];

    /// <summary>Each time a host took the watch from another whose term had run out, neither renewed nor released.</summary>
    public IReadOnlyList<(string By, string From)> TakenOverAfterTerm
    {
        get
        {
            lock (this) return _takenOverAfterTerm.ToList();
        }
    }

    public IEscrowWatchLease For(string host) => new Lease(this, host);

    public void CutOff(string host)
    {
        lock (this) _cutOff.Add(host);
    }

    private sealed class Lease(SharedWatch watch, string host) : IEscrowWatchLease
    {
        public async Task<bool> TryHoldAsync(CancellationToken cancellationToken) => await HoldAsync(cancellationToken) is not null;

        public Task<EscrowWatchHold?> HoldAsync(CancellationToken cancellationToken)
        {
            lock (watch)
            {
                if (watch._cutOff.Contains(host)) throw new IOException($"{host} cannot reach the watch");
                var term = watch._held?.Term;
                if (watch._held is { } held && held.Holder != host)
                {
                    if (held.Until > DateTime.UtcNow) return Task.FromResult<EscrowWatchHold?>(null);
                    watch._takenOverAfterTerm.Add((host, held.Holder));
                    term = null;
                }
                watch._held = (host, DateTime.UtcNow + watch._term, term ?? ++watch._terms);
                return Task.FromResult<EscrowWatchHold?>(new EscrowWatchHold(watch._held.Value.Term, watch._term));
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

/// <summary>How long a watcher test waits for what the watcher does by itself.</summary>
public static class Patiently
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    public static CancellationToken Timeout() => new CancellationTokenSource(Patience).Token;

    public static Task UntilAsync(Func<bool> done, string what) => UntilAsync(() => Task.FromResult(done()), what);

    public static async Task UntilAsync(Func<Task<bool>> done, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await done())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out waiting for {what}.");
            await Task.Delay(20);
        }
    }
}
