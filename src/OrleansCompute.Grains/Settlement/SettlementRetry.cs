using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Grains.Settlement;

/// <summary>
/// Which of the escrow contract's refusals of a voucher can pass, and how long and how often a settlement queue tries such
/// a voucher again. A refusal that can pass depends on chain state a reorganization or the tenant can still change; the
/// others are final for this voucher.
/// </summary>
public static class SettlementRetry
{
    /// <summary>
    /// UnknownLease: the escrow's opening was removed by a reorganization and may be mined again. ExceedsDeposit: a top-up
    /// the voucher counts on was removed and may be mined again (or the tenant tops up). NotSettler: the market's key is
    /// not (or no longer, or not yet) a settler, which the escrow's owner can change. The rest (BadSignature,
    /// LeaseAlreadyClosed, ClaimWindowOver, LeaseReplaced, a reverted batch) stay as they are for this voucher.
    /// </summary>
    public static bool MayPass(string reason) => reason is "UnknownLease" or "ExceedsDeposit" or "NotSettler";

    /// <summary>
    /// LeaseReplaced: a later lease took the escrow's channel, so the escrow is closed, and the contract checks no more:
    /// the voucher refused may be the very one that closed it (sent again because the watcher had not shown its payment
    /// yet, or after a reorganization that mined its transaction again). Only the lease's own events, which the watcher
    /// hands over, tell whether it paid. (LeaseAlreadyClosed says more: the escrow closed having paid less than the voucher.)
    /// </summary>
    public static bool LeavesPaymentOpen(string reason) => reason is "LeaseReplaced";

    /// <summary>
    /// Until when the lease's escrow can still take a voucher: its expiry plus the contract's claim window, after which the
    /// tenant may take back what is not paid. Null when nothing can take it any more: no lease, or one closed already.
    /// The expiry is the one the lease asked the escrow for, which the escrow carries at least; a tenant's own closing
    /// brings it forward, and a try after that is refused as ClaimWindowOver, which is final.
    /// </summary>
    public static DateTimeOffset? SettleableUntil(LeaseSnapshot? lease, TimeSpan claimWindow) =>
        lease is { EscrowExpiry: { } expiry } && !lease.Status.IsFinal() ? expiry + claimWindow : null;

    /// <summary>The wait before the try after the <paramref name="refusals"/>-th refusal in a row: doubling from <paramref name="first"/>, at most <paramref name="longest"/>.</summary>
    public static TimeSpan Backoff(int refusals, TimeSpan first, TimeSpan longest)
    {
        var doublings = Math.Clamp(refusals - 1, 0, 30);
        var wait = first.Ticks * Math.Pow(2, doublings);
        return wait >= longest.Ticks ? longest : TimeSpan.FromTicks((long)wait);
    }
}
