using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Escrow;

namespace OrleansCompute.Host.Chain;

/// <summary>Folds the escrow contract's events into the lease and account grains they concern.</summary>
public sealed class GrainEscrowEventSink(IGrainFactory grains) : IEscrowEventSink
{
    public async Task OnLeaseOpenedAsync(EscrowLeaseOpened opened, CancellationToken cancellationToken) =>
        await grains.GetGrain<ILeaseGrain>(opened.LeaseId).ConfirmFundingAsync(new EscrowFunded(
            opened.Tenant, opened.Provider, opened.Deposit, opened.Expiry, opened.TransactionHash, opened.BlockNumber));

    public Task OnLeaseSettledAsync(EscrowLeaseSettled settled, CancellationToken cancellationToken) =>
        grains.GetGrain<ILeaseGrain>(settled.LeaseId).ConfirmSettledAsync(new EscrowSettled(
            settled.Provider, settled.Amount, settled.TotalPaid, settled.TransactionHash, settled.BlockNumber));

    public Task OnLeaseClosedAsync(EscrowLeaseClosed closed, CancellationToken cancellationToken) =>
        grains.GetGrain<ILeaseGrain>(closed.LeaseId).ConfirmClosedAsync(new EscrowClosed(
            closed.Refund, closed.TransactionHash, closed.BlockNumber));

    public Task OnWithdrawnAsync(EscrowWithdrawn withdrawn, CancellationToken cancellationToken) =>
        grains.GetGrain<IAccountGrain>(AccountKeys.Normalize(withdrawn.Provider)).RecordWithdrawalAsync(withdrawn.Amount, withdrawn.TransactionHash);
}
