namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// A host's hold on the <see cref="IEscrowWatchLease"/>. <see cref="Term"/> is the fencing token: it changes whenever the
/// lease passes to another host, so a host that finds itself in a term other than the one it read under knows another may
/// have read and rolled back since. The hold lasts <see cref="Length"/> from when it was asked for, unless renewed. Either
/// is null when the lease does not say.
/// </summary>
public sealed record EscrowWatchHold(long? Term, TimeSpan? Length);
