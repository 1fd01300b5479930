using System.Reflection;
using OrleansCompute.Abstractions.Inference;
using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Integration.Tests.Infrastructure;

/// <summary>
/// A lease grain that only stores inference records, and fails the calls a test lines up first, as a lease whose storage
/// write failed or whose silo could not be reached would. Any other call of the lease is a mistake of the test.
/// </summary>
public class FlakyLeaseGrain : DispatchProxy
{
    private readonly Lock _gate = new();
    private readonly Queue<Exception> _failures = new();
    private readonly List<IReadOnlyList<InferenceRecord>> _calls = [];
    private readonly List<InferenceRecord> _stored = [];

    public static (ILeaseGrain Lease, FlakyLeaseGrain Fake) Create(params Exception[] failures)
    {
        var lease = Create<ILeaseGrain, FlakyLeaseGrain>();
        var fake = (FlakyLeaseGrain)(object)lease;
        foreach (var failure in failures) fake._failures.Enqueue(failure);
        return (lease, fake);
    }

    /// <summary>Every batch it was sent, whether it failed or was stored.</summary>
    public IReadOnlyList<IReadOnlyList<InferenceRecord>> Calls
    {
        get
        {
            lock (_gate) return _calls.ToArray();
        }
    }

    /// <summary>The records of the batches it stored, in the order it stored them.</summary>
    public IReadOnlyList<InferenceRecord> Stored
    {
        get
        {
            lock (_gate) return _stored.ToArray();
        }
    }

    /// <summary>Fails every call from now on.</summary>
    public bool FailsForever { get; set; }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
        targetMethod?.Name == nameof(ILeaseGrain.RecordInferencesAsync)
            ? RecordAsync((IReadOnlyList<InferenceRecord>)args![0]!)
            : throw new NotSupportedException($"{targetMethod?.Name} is not faked.");

    private async Task<LeaseSnapshot> RecordAsync(IReadOnlyList<InferenceRecord> records)
    {
        // A call takes a moment, so that records that finish meanwhile wait for the next one.
        await Task.Delay(TimeSpan.FromMilliseconds(50));
        lock (_gate)
        {
            _calls.Add(records.ToArray());
            if (FailsForever) throw new SiloUnavailableException("The lease's silo could not be reached.");
            if (_failures.TryDequeue(out var failure)) throw failure;
            _stored.AddRange(records);
        }
        // The meters do not read the lease back.
        return null!;
    }
}
