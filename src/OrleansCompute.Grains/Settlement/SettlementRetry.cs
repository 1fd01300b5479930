using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Grains.Settlement;

/// <summary>How long a lease's voucher can still settle, and so how long the market keeps at it.</summary>
public static class SettlementRetry
{
    /// <summary>
    /// Until when the lease's escrow can still take a voucher: its expiry plus the contract's claim window, after which the
    /// tenant may take back what is not paid. Null when nothing can take it any more: no lease, or one closed already.
    /// The expiry is the one the lease asked the escrow for, which the escrow carries at least; a tenant's own closing
    /// brings it forward, after which the escrow refuses the voucher as ClaimWindowOver.
    /// </summary>
    public static DateTimeOffset? SettleableUntil(LeaseSnapshot? lease, TimeSpan claimWindow) =>
        lease is { EscrowExpiry: { } expiry } && !lease.Status.IsFinal() ? expiry + claimWindow : null;
}
