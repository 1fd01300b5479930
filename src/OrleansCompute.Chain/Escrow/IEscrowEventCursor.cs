namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// Where the <see cref="EscrowEventWatcher"/> keeps its progress, so that a restarted host goes on from the last block
/// it finished instead of reading the chain again from the escrow's deployment, and can still undo a reorganization of
/// blocks it read before the restart.
/// </summary>
public interface IEscrowEventCursor
{
    /// <summary>The checkpoint saved last, or null when nothing was recorded yet.</summary>
    Task<EscrowWatcherCheckpoint?> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Replaces the saved checkpoint; its block moves back after a reorganization.</summary>
    Task SaveAsync(EscrowWatcherCheckpoint checkpoint, CancellationToken cancellationToken);
}
