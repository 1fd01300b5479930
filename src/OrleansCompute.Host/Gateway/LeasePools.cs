using System.Collections.Concurrent;

namespace OrleansCompute.Host.Gateway;

/// <summary>
/// The pool of each lease whose key the gateway has seen accepted, so that a request on a lease it knows picks its backend
/// (and checks its model and prompt against it) without asking the lease grain first: one grain call fewer per request.
/// The lease still checks the key, its state and its room when it admits the request, before anything runs. A lease's
/// pool never changes, so an entry never goes stale; the map forgets everything once it holds <see cref="Capacity"/> leases.
/// </summary>
public sealed class LeasePools
{
    private const int Capacity = 100_000;

    private readonly ConcurrentDictionary<Guid, string?> _pools = new();
    private int _count;

    public bool TryGet(Guid leaseId, out string? poolKey) => _pools.TryGetValue(leaseId, out poolKey);

    public void Remember(Guid leaseId, string? poolKey)
    {
        if (!_pools.TryAdd(leaseId, poolKey) || Interlocked.Increment(ref _count) <= Capacity) return;
        _pools.Clear();
        Interlocked.Exchange(ref _count, 0);
    }
}
