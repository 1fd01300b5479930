using System.Collections.Concurrent;
using OrleansCompute.Abstractions.Inference;
using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Host.Gateway;

/// <summary>
/// Records what admitted requests used with one call in flight per lease: the requests of a lease that finish while its
/// last record is on its way go together in the next call, which the lease stores with one write (Chirper's trick, from
/// the caller's side, so the lease grain stays one request at a time). A request's record completes once its usage is
/// stored, as before; a lease with nothing in flight records at once.
/// </summary>
public sealed class LeaseMeters
{
    private readonly ConcurrentDictionary<Guid, LeaseMeter> _meters = new();

    public Task RecordAsync(Guid leaseId, ILeaseGrain lease, InferenceUsage usage, int mostTokens)
    {
        while (true)
        {
            var meter = _meters.GetOrAdd(leaseId, id => new LeaseMeter(this, id, lease));
            // A meter that has just sent its last record has left the map: take the next one.
            if (meter.TryRecord(new InferenceRecord(usage, mostTokens), out var stored)) return stored;
        }
    }

    private sealed class LeaseMeter(LeaseMeters meters, Guid leaseId, ILeaseGrain lease)
    {
        private readonly Lock _gate = new();
        private List<(InferenceRecord Record, TaskCompletionSource Stored)> _waiting = [];
        private bool _sending;
        private bool _retired;

        public bool TryRecord(InferenceRecord record, out Task stored)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            stored = done.Task;
            lock (_gate)
            {
                if (_retired) return false;
                _waiting.Add((record, done));
                if (_sending) return true;
                _sending = true;
            }
            _ = SendAsync();
            return true;
        }

        private async Task SendAsync()
        {
            while (true)
            {
                List<(InferenceRecord Record, TaskCompletionSource Stored)> batch;
                lock (_gate)
                {
                    if (_waiting.Count == 0)
                    {
                        // Nothing left for this lease: the meter goes, so the map holds only leases with records in flight.
                        _retired = true;
                        meters._meters.TryRemove(new KeyValuePair<Guid, LeaseMeter>(leaseId, this));
                        return;
                    }
                    batch = _waiting;
                    _waiting = [];
                }
                try
                {
                    await lease.RecordInferencesAsync(batch.Select(w => w.Record).ToArray());
                    foreach (var waiting in batch) waiting.Stored.TrySetResult();
                }
                catch (Exception failed)
                {
                    foreach (var waiting in batch) waiting.Stored.TrySetException(failed);
                }
            }
        }
    }
}
