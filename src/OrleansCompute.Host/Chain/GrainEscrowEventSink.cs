using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Escrow;

namespace OrleansCompute.Host.Chain;

/// <summary>
/// Folds the escrow contract's events into the lease and account grains they concern. Lease ids are per tenant on
/// chain, so anyone can open an escrow under a market lease's id in their own name: only events of the lease's own
/// tenant reach its grain.
/// </summary>
public sealed class GrainEscrowEventSink(IGrainFactory grains) : IEscrowEventSink
{
    public async Task OnLeaseOpenedAsync(EscrowLeaseOpened opened, CancellationToken cancellationToken)
    {
        var lease = grains.GetGrain<ILeaseGrain>(opened.LeaseId);
        if (!await IsTenantsAsync(lease, opened.Tenant)) return;
        await lease.ConfirmFundingAsync(new EscrowFunded(
            opened.Tenant, opened.Provider, opened.Deposit, opened.Expiry, opened.TransactionHash, opened.BlockNumber) { Signer = opened.Signer });
    }

    public async Task OnLeaseToppedUpAsync(EscrowLeaseToppedUp toppedUp, CancellationToken cancellationToken)
    {
        var lease = grains.GetGrain<ILeaseGrain>(toppedUp.LeaseId);
        if (!await IsTenantsAsync(lease, toppedUp.Tenant)) return;
        await lease.ConfirmTopUpAsync(new EscrowToppedUp(toppedUp.Amount, toppedUp.Deposit, toppedUp.TransactionHash, toppedUp.BlockNumber));
    }

    public async Task OnLeaseSettledAsync(EscrowLeaseSettled settled, CancellationToken cancellationToken)
    {
        var lease = grains.GetGrain<ILeaseGrain>(settled.LeaseId);
        if (!await IsTenantsAsync(lease, settled.Tenant)) return;
        await lease.ConfirmSettledAsync(new EscrowSettled(
            settled.Provider, settled.Amount, settled.TotalPaid, settled.TransactionHash, settled.BlockNumber));
    }

    public async Task OnLeaseClosedAsync(EscrowLeaseClosed closed, CancellationToken cancellationToken)
    {
        var lease = grains.GetGrain<ILeaseGrain>(closed.LeaseId);
        if (!await IsTenantsAsync(lease, closed.Tenant)) return;
        await lease.ConfirmClosedAsync(new EscrowClosed(closed.Refund, closed.TransactionHash, closed.BlockNumber));
    }

    public Task OnWithdrawnAsync(EscrowWithdrawn withdrawn, CancellationToken cancellationToken) =>
        grains.GetGrain<IAccountGrain>(AccountKeys.Normalize(withdrawn.Provider)).RecordWithdrawalAsync(withdrawn.Amount, withdrawn.TransactionHash);

    // A lease the market does not know is left to its grain, which ignores it.
    private static async Task<bool> IsTenantsAsync(ILeaseGrain lease, string tenant) =>
        await lease.GetAsync() is not { } snapshot || AccountKeys.Normalize(tenant) == snapshot.Tenant;
}
