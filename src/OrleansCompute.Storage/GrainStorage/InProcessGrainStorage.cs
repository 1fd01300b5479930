// Grain state kept in this process's memory, for a single-silo host that need not survive a restart. Orleans' own
// memory storage keeps state in storage grains, so every read and write is a grain call; here it is a dictionary
// lookup. Each write stores a serialized copy, so a grain never shares its state object with the store.
using System.Collections.Concurrent;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace OrleansCompute.Storage.GrainStorage;

public sealed class InProcessGrainStorage(IGrainStorageSerializer serializer, IActivatorProvider activators) : IGrainStorage
{
    // Many lock stripes: every grain write takes one, and on two cores a writer preempted while holding a stripe
    // stalls every other writer that hashes to it.
    private readonly ConcurrentDictionary<(string State, GrainId Grain), Stored> _states =
        new(concurrencyLevel: 64 * Environment.ProcessorCount, capacity: 1 << 16);
    private long _lastEtag;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (_states.TryGetValue((stateName, grainId), out var stored))
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
        var key = (stateName, grainId);
        var written = grainState.ETag is null
            ? _states.TryAdd(key, next)
            : _states.TryGetValue(key, out var current) && current.Etag == grainState.ETag && _states.TryUpdate(key, next, current);
        if (!written)
            return Task.FromException(new InconsistentStateException($"{stateName} of {grainId} was written by someone else.", CurrentEtag(key), grainState.ETag));

        grainState.ETag = next.Etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = (stateName, grainId);
        if (grainState.ETag is not null
            && !(_states.TryGetValue(key, out var current) && current.Etag == grainState.ETag && _states.TryRemove(KeyValuePair.Create(key, current))))
            return Task.FromException(new InconsistentStateException($"{stateName} of {grainId} was written by someone else.", CurrentEtag(key), grainState.ETag));

        grainState.State = activators.GetActivator<T>().Create();
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    private string? CurrentEtag((string, GrainId) key) => _states.TryGetValue(key, out var current) ? current.Etag : null;

    private sealed record Stored(BinaryData Payload, string Etag);
}
