// When the chain watcher, run as the host runs it, sees each lease settled: the settlement bench's end of the line.
using System.Collections.Concurrent;
using System.Diagnostics;
using OrleansCompute.Chain.Escrow;

namespace OrleansCompute.Bench;

/// <summary>
/// The sink of an <see cref="EscrowEventWatcher"/> that notes, for each lease a run expects, when the watcher delivered its
/// <c>LeaseClosed</c> (a final voucher pays and closes in one transaction, so that event comes after its payment). That is
/// when the market learns the lease is settled: the host's own watcher folds the same event into the lease grain.
/// </summary>
public sealed class WatcherClock : IEscrowEventSink
{
    private ConcurrentDictionary<Guid, long> _seen = new();
    private HashSet<Guid> _expected = [];
    private TaskCompletionSource _all = new();
    private int _remaining;

    public Task Expect(IEnumerable<Guid> leases)
    {
        _expected = leases.ToHashSet();
        _remaining = _expected.Count;
        _all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _all.Task;
    }

    /// <summary>When each expected lease was seen closed (Stopwatch timestamps); the clock starts afresh for the next run.</summary>
    public IReadOnlyDictionary<Guid, long> Take()
    {
        var seen = _seen;
        _seen = new();
        return seen;
    }

    public Task OnLeaseClosedAsync(EscrowLeaseClosed closed, CancellationToken cancellationToken)
    {
        if (_expected.Contains(closed.LeaseId) && _seen.TryAdd(closed.LeaseId, Stopwatch.GetTimestamp()) && Interlocked.Decrement(ref _remaining) == 0)
            _all.TrySetResult();
        return Task.CompletedTask;
    }

    public Task OnLeaseOpenedAsync(EscrowLeaseOpened opened, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task OnLeaseSettledAsync(EscrowLeaseSettled settled, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task OnWithdrawnAsync(EscrowWithdrawn withdrawn, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Anvil in the bench reorganizes nothing; a rollback would make the run's figures meaningless.</summary>
    public Task OnRolledBackAsync(EscrowEvent rolledBack, CancellationToken cancellationToken) =>
        throw new InvalidOperationException($"The bench's chain reorganized ({rolledBack}): its figures would not hold.");
}
