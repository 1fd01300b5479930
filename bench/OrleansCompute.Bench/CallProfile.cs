// Counts what one lease costs: every grain call (by interface and method) and every storage operation
// (by grain type and state, with the bytes written), only while recording.
using System.Collections.Concurrent;
using System.Diagnostics;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Bench;

public sealed class CallProfile : IIncomingGrainCallFilter
{
    private readonly ConcurrentDictionary<string, Tally> _calls = new();
    private readonly ConcurrentDictionary<string, Tally> _storage = new();
    private volatile bool _recording;

    public sealed class Tally
    {
        public long Count;
        public long Ticks;
        public long Bytes;
    }

    public sealed record Line(string Name, long Count, double MeanMs, long Bytes);

    public void Start()
    {
        _calls.Clear();
        _storage.Clear();
        _recording = true;
    }

    public (IReadOnlyList<Line> Calls, IReadOnlyList<Line> Storage) Stop()
    {
        _recording = false;
        return (Lines(_calls), Lines(_storage));
    }

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (!_recording)
        {
            await context.Invoke();
            return;
        }
        var started = Stopwatch.GetTimestamp();
        try
        {
            await context.Invoke();
        }
        finally
        {
            Add(_calls, $"{ShortName(context.InterfaceName)}.{context.MethodName}", Stopwatch.GetTimestamp() - started, 0);
        }
    }

    public void RecordStorage(string operation, string stateName, GrainId grainId, long ticks, long bytes) =>
        RecordStorage($"{operation} {grainId.Type}/{stateName}", ticks, bytes);

    /// <summary>An operation on a store that is not grain state (the lease book), by its full name.</summary>
    public void RecordStorage(string name, long ticks, long bytes)
    {
        if (_recording) Add(_storage, name, ticks, bytes);
    }

    private static void Add(ConcurrentDictionary<string, Tally> tallies, string name, long ticks, long bytes)
    {
        var tally = tallies.GetOrAdd(name, _ => new Tally());
        Interlocked.Increment(ref tally.Count);
        Interlocked.Add(ref tally.Ticks, ticks);
        Interlocked.Add(ref tally.Bytes, bytes);
    }

    private static List<Line> Lines(ConcurrentDictionary<string, Tally> tallies) =>
        tallies.Select(t => new Line(t.Key, t.Value.Count,
                t.Value.Count == 0 ? 0 : t.Value.Ticks * 1000.0 / Stopwatch.Frequency / t.Value.Count, t.Value.Bytes))
            .OrderByDescending(l => l.Count).ThenBy(l => l.Name, StringComparer.Ordinal)
            .ToList();

    private static string ShortName(string interfaceName)
    {
        var generic = interfaceName.IndexOf('<');
        var plain = generic < 0 ? interfaceName : interfaceName[..generic];
        return plain[(plain.LastIndexOf('.') + 1)..];
    }
}

/// <summary>The market's store with every read, write and clear counted and timed, and each written state's size measured.</summary>
public sealed class CountingGrainStorage(IGrainStorage inner, CallProfile profile, Serializer serializer) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Timed("read", stateName, grainId, 0, () => inner.ReadStateAsync(stateName, grainId, grainState));

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Timed("write", stateName, grainId, serializer.SerializeToArray(grainState.State).Length,
            () => inner.WriteStateAsync(stateName, grainId, grainState));

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Timed("clear", stateName, grainId, 0, () => inner.ClearStateAsync(stateName, grainId, grainState));

    private async Task Timed(string operationName, string stateName, GrainId grainId, long bytes, Func<Task> operation)
    {
        var started = Stopwatch.GetTimestamp();
        await operation();
        profile.RecordStorage(operationName, stateName, grainId, Stopwatch.GetTimestamp() - started, bytes);
    }
}

/// <summary>The pools' lease book with every write and read counted and timed, and each record's size measured.</summary>
public sealed class CountingLeaseBook(ILeaseBook inner, CallProfile profile, Serializer serializer) : ILeaseBook
{
    public Task<IReadOnlyList<BookedLease>> ReadLiveAsync(string poolKey) => Timed("read lease-book/live", 0, () => inner.ReadLiveAsync(poolKey));

    public Task<BookedLease?> FindAsync(Guid leaseId) => Timed("read lease-book/lease", 0, () => inner.FindAsync(leaseId));

    public Task<string?> FindPoolAsync(Guid leaseId) => Timed("read lease-book/pool", 0, () => inner.FindPoolAsync(leaseId));

    public Task<IReadOnlyList<LeaseSnapshot>> ListTenantAsync(string tenant) => Timed("read lease-book/tenant", 0, () => inner.ListTenantAsync(tenant));

    public Task WriteAsync(BookedLease record) =>
        Timed("write lease-book/lease", serializer.SerializeToArray(record).Length, async () => { await inner.WriteAsync(record); return 0; });

    public Task RemoveAsync(Guid leaseId) => Timed("clear lease-book/lease", 0, async () => { await inner.RemoveAsync(leaseId); return 0; });

    private async Task<T> Timed<T>(string name, long bytes, Func<Task<T>> operation)
    {
        var started = Stopwatch.GetTimestamp();
        var result = await operation();
        profile.RecordStorage(name, Stopwatch.GetTimestamp() - started, bytes);
        return result;
    }
}
