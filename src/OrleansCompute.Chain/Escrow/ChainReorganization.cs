namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// A reorganization the <see cref="EscrowEventWatcher"/> undid: the blocks it had read after <see cref="CommonAncestor"/>,
/// up to <see cref="NewestBlockRead"/>, were replaced, and the <see cref="EventsRolledBack"/> events it had delivered from
/// them were handed back to its sink.
/// </summary>
public sealed record ChainReorganization(long CommonAncestor, long NewestBlockRead, int EventsRolledBack, DateTimeOffset SeenAt)
{
    /// <summary>How many blocks the watcher went back.</summary>
    public long Depth => NewestBlockRead - CommonAncestor;
}
