// When each lease a settlement run expects reached a point of the pipeline (a receipt, the watcher), first time only.
using System.Collections.Concurrent;
using System.Diagnostics;

namespace OrleansCompute.Bench;

public sealed class LeaseArrivals
{
    private ConcurrentDictionary<Guid, long> _arrived = new();
    private HashSet<Guid> _expected = [];
    private TaskCompletionSource _all = new();
    private int _remaining;

    /// <summary>Starts a run: completes once every one of <paramref name="leases"/> has arrived.</summary>
    public Task Expect(IEnumerable<Guid> leases)
    {
        _expected = leases.ToHashSet();
        _remaining = _expected.Count;
        _all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _all.Task;
    }

    /// <summary>Notes that <paramref name="lease"/> arrived now, unless the run does not expect it or it arrived before.</summary>
    public void Arrived(Guid lease)
    {
        if (_expected.Contains(lease) && _arrived.TryAdd(lease, Stopwatch.GetTimestamp()) && Interlocked.Decrement(ref _remaining) == 0)
            _all.TrySetResult();
    }

    /// <summary>When each lease arrived (Stopwatch timestamps); the next run starts afresh.</summary>
    public IReadOnlyDictionary<Guid, long> Take()
    {
        var arrived = _arrived;
        _arrived = new();
        return arrived;
    }
}
