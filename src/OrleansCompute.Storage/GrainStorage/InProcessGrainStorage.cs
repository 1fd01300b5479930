// Grain state kept in this process's memory, for a single-silo host that need not survive a restart. Orleans' own
// memory storage keeps state in storage grains, so every read and write is a grain call; here it is a dictionary
// lookup. Each write stores a serialized copy, so a grain never shares its state object with the store.
using System.Collections.Concurrent;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace OrleansCompute.Storage.GrainStorage;

public sealed class InProcessGrainStorage(IGrainStorageSerializer serializer, IActivatorProvider activators) : IGrainStorage
{
    // One cell per grain state, created once; every later write swaps the cell's content with a compare-and-swap on
    // the etag, so writers never take a lock (on two cores, a writer preempted inside a lock stalls the others).
    private readonly ConcurrentDictionary<(string State, GrainId Grain), Cell> _cells = new();
    private long _lastEtag;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (_cells.TryGetValue((stateName, grainId), out var cell) && cell.Current is { } stored)
        {
            grainState.State = serializer.Deserialize<T>(stored.Payload);
            grainState.ETag = stored.Etag;
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = activators.GetActivator<T>().Create();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var next = new Stored(serializer.Serialize(grainState.State), Interlocked.Increment(ref _lastEtag).ToString());
        if (!Swap(stateName, grainId, grainState.ETag, next)) return Conflict(stateName, grainId, grainState);

        grainState.ETag = next.Etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (!Swap(stateName, grainId, grainState.ETag, next: null)) return Conflict(stateName, grainId, grainState);

        grainState.State = activators.GetActivator<T>().Create();
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    /// <summary>Replaces the stored state with <paramref name="next"/> (null: none) if what is stored still has <paramref name="expectedEtag"/>.</summary>
    private bool Swap(string stateName, GrainId grainId, string? expectedEtag, Stored? next)
    {
        var cell = _cells.GetOrAdd((stateName, grainId), static _ => new Cell());
        var current = cell.Current;
        if (current?.Etag != expectedEtag) return false;
        return ReferenceEquals(Interlocked.CompareExchange(ref cell.Current, next, current), current);
    }

    private Task Conflict<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Task.FromException(new InconsistentStateException($"{stateName} of {grainId} was written by someone else.",
            _cells.TryGetValue((stateName, grainId), out var cell) ? cell.Current?.Etag : null, grainState.ETag));

    private sealed class Cell
    {
        public Stored? Current;
    }

    private sealed record Stored(BinaryData Payload, string Etag);
}
