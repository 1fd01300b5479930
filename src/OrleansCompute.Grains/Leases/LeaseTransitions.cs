using Microsoft.Extensions.Logging;
using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Grains.Leases;

/// <summary>How a lease moves, wherever it is kept (its pool before the lease grain takes it over, the lease grain after).</summary>
internal static class LeaseTransitions
{
    /// <summary>The lease in <paramref name="status"/>, with the move and its reason at the end of its history.</summary>
    public static LeaseSnapshot Apply(LeaseSnapshot lease, LeaseStatus status, string reason, string? detail, DateTimeOffset at, ILogger logger)
    {
        if (logger.IsEnabled(LogLevel.Information))
            logger.LogInformation("Lease {LeaseId}: {From} -> {To} ({Reason}) {Detail}", LeaseIds.Format(lease.Id), lease.Status, status, reason, detail);
        // An array, not a collection expression: for an IReadOnlyList target the compiler makes a type of its own, which
        // Orleans' serializer has no codec for and serializes several times slower.
        return lease with { Status = status, History = lease.History.Append(new LeaseTransition(at, status, reason, detail)).ToArray() };
    }
}
