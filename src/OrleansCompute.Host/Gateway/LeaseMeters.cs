using System.Collections.Concurrent;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Inference;
using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Host.Gateway;

/// <summary>
/// Records what admitted requests used with one call in flight per lease: the requests of a lease that finish while its
/// last record is on its way go together in the next call, which the lease stores with one write (Chirper's trick, from
/// the caller's side, so the lease grain stays one request at a time). A request's record completes once its usage is
/// stored, or once it is given up; a lease with nothing in flight records at once.
/// </summary>
/// <remarks>
/// A record is inference that ran, often streamed to the client already: lost, the provider is never paid for it. So a
/// call that failed without storing anything (the lease's storage write failed, which the lease undoes, or the silo holding
/// it could not be reached) is sent again, its records first and then those that came meanwhile, in order, up to
/// <see cref="MostAttempts"/> times each. Two failures are given up at once: a <see cref="MarketException"/>, the lease's
/// own answer (no such lease), which no retry changes; and a <see cref="TimeoutException"/>, after which the lease may have
/// stored the records all the same, and sending them again could bill the tenant twice. This retries a call from outside
/// the silo, not grain to grain, and stays well under the grain call timeout.
/// </remarks>
public sealed class LeaseMeters(ILogger<LeaseMeters> logger)
{
    /// <summary>How many calls a record gets before it is given up.</summary>
    public const int MostAttempts = 5;

    /// <summary>The wait before the first retry; it doubles after each, so a record is given up after about 3 s of failures.</summary>
    public static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(200);

    private readonly ConcurrentDictionary<Guid, LeaseMeter> _meters = new();
    private readonly ILogger<LeaseMeters> _logger = logger;

    /// <summary>
    /// Completes once the usage is stored on the lease, or given up (logged as a warning); it never fails: the request's
    /// answer has been given by then, and a metering failure is the market's, not the tenant's.
    /// </summary>
    public Task RecordAsync(Guid leaseId, ILeaseGrain lease, InferenceUsage usage, int mostTokens)
    {
        while (true)
        {
            var meter = _meters.GetOrAdd(leaseId, id => new LeaseMeter(this, id, lease));
            // A meter that has just sent its last record has left the map: take the next one.
            if (meter.TryRecord(new InferenceRecord(usage, mostTokens), out var stored)) return stored;
        }
    }

    private sealed class Waiting(InferenceRecord record)
    {
        public InferenceRecord Record { get; } = record;
        public TaskCompletionSource Stored { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Attempts { get; set; }
    }

    private sealed class LeaseMeter(LeaseMeters meters, Guid leaseId, ILeaseGrain lease)
    {
        private readonly Lock _gate = new();
        private List<Waiting> _waiting = [];
        private bool _sending;
        private bool _retired;

        public bool TryRecord(InferenceRecord record, out Task stored)
        {
            var waiting = new Waiting(record);
            stored = waiting.Stored.Task;
            lock (_gate)
            {
                if (_retired) return false;
                _waiting.Add(waiting);
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
                List<Waiting> batch;
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
                    foreach (var waiting in batch) waiting.Attempts++;
                    // The batch runs from its oldest record to its newest, so those out of attempts come first.
                    var givenUp = failed is MarketException or TimeoutException ? batch : batch.TakeWhile(w => w.Attempts >= MostAttempts).ToList();
                    if (givenUp.Count > 0) GiveUp(givenUp, failed);
                    var retried = batch[givenUp.Count..];
                    if (retried.Count == 0) continue;
                    // Those still to send go first, before any that came meanwhile: the lease meters them in order.
                    lock (_gate) _waiting = [.. retried, .. _waiting];
                    await Task.Delay(FirstRetryDelay * (1 << (retried[0].Attempts - 1)));
                }
            }
        }

        private void GiveUp(List<Waiting> givenUp, Exception failed)
        {
            meters._logger.LogWarning(failed,
                "Gave up recording {Count} inference request(s) of lease {LeaseId} ({Tokens} tokens) after {Attempts} attempt(s): they will not be billed",
                givenUp.Count, LeaseIds.Format(leaseId), givenUp.Sum(w => (long)w.Record.Usage.TotalTokens), givenUp.Max(w => w.Attempts));
            foreach (var waiting in givenUp) waiting.Stored.TrySetResult();
        }
    }
}
