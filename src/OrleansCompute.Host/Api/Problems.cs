using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Host.Api;

/// <summary>Request checks that happen before any grain is asked, reported like a grain's own rejections.</summary>
internal static class Problems
{
    public static Guid ParseLeaseId(string id) =>
        LeaseIds.TryParse(id, out var leaseId)
            ? leaseId
            : throw MarketException.Invalid("id", "MalformedLeaseId", $"'{id}' is not a lease id (32 hex digits).");
}
