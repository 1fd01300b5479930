// When the chain watcher, run as the host runs it, sees each lease settled: the settlement bench's end of the line.
using OrleansCompute.Chain.Escrow;

namespace OrleansCompute.Bench;

/// <summary>
/// The sink of an <see cref="EscrowEventWatcher"/> that notes, for each lease a run expects, when the watcher delivered its
/// <c>LeaseClosed</c> (a final voucher pays and closes in one transaction, so that event comes after its payment). That is
/// when the market learns the lease is settled: the host's own watcher folds the same event into the lease grain.
/// </summary>
public sealed class WatcherClock : IEscrowEventSink
{
    public LeaseArrivals Closed { get; } = new();

    public Task OnLeaseClosedAsync(EscrowLeaseClosed closed, CancellationToken cancellationToken)
    {
        Closed.Arrived(closed.LeaseId);
        return Task.CompletedTask;
    }

    public Task OnLeaseOpenedAsync(EscrowLeaseOpened opened, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task OnLeaseSettledAsync(EscrowLeaseSettled settled, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task OnWithdrawnAsync(EscrowWithdrawn withdrawn, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Anvil in the bench reorganizes nothing; a rollback would make the run's figures meaningless.</summary>
    public Task OnRolledBackAsync(EscrowEvent rolledBack, CancellationToken cancellationToken) =>
        throw new InvalidOperationException($"The bench's chain reorganized ({rolledBack}): its figures would not hold.");
}
