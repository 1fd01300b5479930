namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// Which of several hosts watching one escrow reads its events: one at a time, so each event reaches the market from one
/// reader and one cursor moves. The <see cref="EscrowEventWatcher"/> asks before every range it reads and every rollback,
/// and again while it delivers once half the term is gone; a host that stops asking (stopped, dead, cut off) loses the
/// lease after its term, and another takes over from the saved cursor.
/// </summary>
public interface IEscrowWatchLease
{
    /// <summary>Takes or renews the lease for this host; false while another host holds it.</summary>
    Task<bool> TryHoldAsync(CancellationToken cancellationToken);

    /// <summary>Gives the lease up, so another host takes over at its next poll instead of after the term.</summary>
    Task ReleaseAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Takes or renews the lease like <see cref="TryHoldAsync"/>, and says in which term and for how long this host holds it;
    /// null while another host holds it. The default, for a lease that numbers no terms, says neither.
    /// </summary>
    async Task<EscrowWatchHold?> HoldAsync(CancellationToken cancellationToken) =>
        await TryHoldAsync(cancellationToken) ? new EscrowWatchHold(Term: null, Length: null) : null;
}
