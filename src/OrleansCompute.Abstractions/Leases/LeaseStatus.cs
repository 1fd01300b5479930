namespace OrleansCompute.Abstractions.Leases;

/// <summary>
/// <c>Requested → Reserved → Funded → Active → Ended → Settled</c>; exits: <c>Cancelled</c> (by the tenant before funding),
/// <c>Expired</c> (not funded in time), <c>Failed</c> (escrow does not match the lease), <c>Refunded</c> (escrow returned on chain without settlement).
/// </summary>
public enum LeaseStatus
{
    Requested,
    Reserved,
    Funded,
    Active,
    Ended,
    Settled,
    Cancelled,
    Expired,
    Failed,
    Refunded,
}

public static class LeaseStatusExtensions
{
    /// <summary>No further transition can happen.</summary>
    public static bool IsFinal(this LeaseStatus status) =>
        status is LeaseStatus.Settled or LeaseStatus.Cancelled or LeaseStatus.Refunded;
}
