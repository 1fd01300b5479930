namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// Which of several hosts watching one escrow reads its events: one at a time, so each event reaches the market from one
/// reader and one cursor moves. The <see cref="EscrowEventWatcher"/> asks before every poll; a host that stops asking
/// (stopped, dead, cut off) loses the lease after its term, and another takes over from the saved cursor.
/// </summary>
public interface IEscrowWatchLease
{
    /// <summary>Takes or renews the lease for this host; false while another host holds it.</summary>
    Task<bool> TryHoldAsync(CancellationToken cancellationToken);

    /// <summary>Gives the lease up, so another host takes over at its next poll instead of after the term.</summary>
    Task ReleaseAsync(CancellationToken cancellationToken);
}
