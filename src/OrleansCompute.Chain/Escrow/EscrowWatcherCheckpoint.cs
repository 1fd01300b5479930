namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// What the <see cref="EscrowEventWatcher"/> keeps across restarts: every event up to and including
/// <see cref="LastBlock"/> was delivered, and <see cref="RecentBlocks"/> (oldest first) are the blocks it would roll
/// back if the chain replaced them.
/// </summary>
public sealed record EscrowWatcherCheckpoint(long LastBlock, IReadOnlyList<WatchedBlock> RecentBlocks);
