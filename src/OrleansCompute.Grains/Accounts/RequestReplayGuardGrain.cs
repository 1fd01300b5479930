using OrleansCompute.Abstractions.Accounts;

namespace OrleansCompute.Grains.Accounts;

/// <summary>
/// Remembers an address's signed requests while they could still be accepted, and forgets each as its timestamp leaves
/// the window. In memory only: a write per signed request would cost the market a store write on every lease, for what
/// is forgotten minutes later; the price is that a silo that dies takes its guards' memory with it, so a request captured
/// in the minutes before could be replayed once after. The activation stays until its last entry is forgotten.
/// </summary>
public sealed class RequestReplayGuardGrain(TimeProvider clock) : Grain, IRequestReplayGuardGrain
{
    private readonly Dictionary<Guid, DateTimeOffset> _seen = [];
    private readonly PriorityQueue<Guid, DateTimeOffset> _byStaleness = new();

    public Task<bool> FirstSightAsync(Guid requestId, DateTimeOffset staleAt)
    {
        var now = clock.GetUtcNow();
        Forget(now);
        if (_seen.ContainsKey(requestId)) return Task.FromResult(false);
        _seen[requestId] = staleAt;
        _byStaleness.Enqueue(requestId, staleAt);
        if (staleAt > now) DelayDeactivation(staleAt - now);
        return Task.FromResult(true);
    }

    /// <summary>Requests whose timestamps have left the window: the signature check refuses them as stale before asking here.</summary>
    private void Forget(DateTimeOffset now)
    {
        while (_byStaleness.TryPeek(out var requestId, out var staleAt) && staleAt < now)
        {
            _byStaleness.Dequeue();
            _seen.Remove(requestId);
        }
    }
}
