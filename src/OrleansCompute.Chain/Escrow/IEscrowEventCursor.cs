namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// Where the <see cref="EscrowEventWatcher"/> keeps its progress, so that a restarted host goes on from the last block
/// it finished instead of reading the chain again from the escrow's deployment.
/// </summary>
public interface IEscrowEventCursor
{
    /// <summary>The last block whose events were all delivered, or null when nothing was recorded yet.</summary>
    Task<long?> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Records that every event up to and including <paramref name="block"/> was delivered.</summary>
    Task SaveAsync(long block, CancellationToken cancellationToken);
}
