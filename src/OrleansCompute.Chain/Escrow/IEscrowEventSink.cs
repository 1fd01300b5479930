namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// Where the <see cref="EscrowEventWatcher"/> folds chain events back into the market. Each call must finish
/// (or throw) before the next one starts; a throw stops delivery until the next poll, which resumes at the
/// event that failed. Across process restarts events since the watcher's start block are delivered again,
/// so handlers must be idempotent (keyed by lease id and transaction hash). When a reorganization replaces blocks the
/// watcher read, it hands the events it delivered from them back to <see cref="OnRolledBackAsync"/>, newest first, before
/// it delivers the events of the blocks that replaced them.
/// </summary>
public interface IEscrowEventSink
{
    Task OnLeaseOpenedAsync(EscrowLeaseOpened opened, CancellationToken cancellationToken);
    Task OnLeaseSettledAsync(EscrowLeaseSettled settled, CancellationToken cancellationToken);
    Task OnLeaseClosedAsync(EscrowLeaseClosed closed, CancellationToken cancellationToken);
    Task OnWithdrawnAsync(EscrowWithdrawn withdrawn, CancellationToken cancellationToken);

    /// <summary>A tenant's own final voucher started its lease's closing; sinks that do not track leases ignore it.</summary>
    Task OnLeaseClosingAsync(EscrowLeaseClosing closing, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A tenant added to a live lease's escrow; sinks that do not track deposits ignore it.</summary>
    Task OnLeaseToppedUpAsync(EscrowLeaseToppedUp toppedUp, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// An event delivered before is no longer on the chain: undo what it did. Like delivery, this must be idempotent: a
    /// crash before the watcher saved its rollback hands the same events back again.
    /// </summary>
    Task OnRolledBackAsync(EscrowEvent rolledBack, CancellationToken cancellationToken);
}
