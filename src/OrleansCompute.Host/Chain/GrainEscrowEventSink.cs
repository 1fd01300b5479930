using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Escrow;

namespace OrleansCompute.Host.Chain;

/// <summary>
/// Folds the escrow contract's events into the lease and account grains they concern, and takes them back out when a
/// reorganization removed them. Lease ids are per tenant on chain, so anyone can open an escrow under a market lease's
/// id in their own name: only events of the lease's own tenant reach its grain. Every call that changes a grain carries this
/// host's watch term (<see cref="WatchFence"/>), and the grain refuses it once the term has passed.
/// </summary>
public sealed class GrainEscrowEventSink(IGrainFactory grains, GrainEscrowEventCursor cursor) : IEscrowEventSink
{
    public async Task OnLeaseOpenedAsync(EscrowLeaseOpened opened, CancellationToken cancellationToken)
    {
        if (await TenantsLeaseAsync(opened.LeaseId, opened.Tenant) is not { } lease) return;
        using var fenced = Fenced();
        await lease.ConfirmFundingAsync(Funded(opened));
    }

    public async Task OnLeaseToppedUpAsync(EscrowLeaseToppedUp toppedUp, CancellationToken cancellationToken)
    {
        if (await TenantsLeaseAsync(toppedUp.LeaseId, toppedUp.Tenant) is not { } lease) return;
        using var fenced = Fenced();
        await lease.ConfirmTopUpAsync(ToppedUp(toppedUp));
    }

    public async Task OnLeaseSettledAsync(EscrowLeaseSettled settled, CancellationToken cancellationToken)
    {
        if (await TenantsLeaseAsync(settled.LeaseId, settled.Tenant) is not { } lease) return;
        using var fenced = Fenced();
        await lease.ConfirmSettledAsync(Settled(settled));
    }

    public async Task OnLeaseClosingAsync(EscrowLeaseClosing closing, CancellationToken cancellationToken)
    {
        if (await TenantsLeaseAsync(closing.LeaseId, closing.Tenant) is not { } lease) return;
        using var fenced = Fenced();
        await lease.ConfirmClosingAsync(Closing(closing));
    }

    public async Task OnLeaseClosedAsync(EscrowLeaseClosed closed, CancellationToken cancellationToken)
    {
        if (await TenantsLeaseAsync(closed.LeaseId, closed.Tenant) is not { } lease) return;
        using var fenced = Fenced();
        await lease.ConfirmClosedAsync(Closed(closed));
    }

    public async Task OnWithdrawnAsync(EscrowWithdrawn withdrawn, CancellationToken cancellationToken)
    {
        using var fenced = Fenced();
        await Account(withdrawn.Provider).RecordWithdrawalAsync(withdrawn.Amount, withdrawn.TransactionHash);
    }

    public async Task OnRolledBackAsync(EscrowEvent rolledBack, CancellationToken cancellationToken)
    {
        // Around the lookups too: a rollback is the delivery that must never arrive after the next holder's.
        using var fenced = Fenced();
        switch (rolledBack)
        {
            case EscrowLeaseOpened opened when await TenantsLeaseAsync(opened.LeaseId, opened.Tenant) is { } lease:
                await lease.RollBackFundingAsync(Funded(opened));
                break;
            case EscrowLeaseToppedUp toppedUp when await TenantsLeaseAsync(toppedUp.LeaseId, toppedUp.Tenant) is { } lease:
                await lease.RollBackTopUpAsync(ToppedUp(toppedUp));
                break;
            case EscrowLeaseSettled settled when await TenantsLeaseAsync(settled.LeaseId, settled.Tenant) is { } lease:
                await lease.RollBackSettledAsync(Settled(settled));
                break;
            case EscrowLeaseClosed closed when await TenantsLeaseAsync(closed.LeaseId, closed.Tenant) is { } lease:
                await lease.RollBackClosedAsync(Closed(closed));
                break;
            case EscrowLeaseClosing closing when await TenantsLeaseAsync(closing.LeaseId, closing.Tenant) is { } lease:
                await lease.RollBackClosingAsync(Closing(closing));
                break;
            case EscrowWithdrawn withdrawn:
                await Account(withdrawn.Provider).RollBackWithdrawalAsync(withdrawn.Amount, withdrawn.TransactionHash);
                break;
        }
    }

    private static EscrowFunded Funded(EscrowLeaseOpened opened) =>
        new(opened.Tenant, opened.Provider, opened.Deposit, opened.Expiry, opened.TransactionHash, opened.BlockNumber)
        {
            Signer = opened.Signer,
            Channel = opened.Channel,
        };

    private static EscrowToppedUp ToppedUp(EscrowLeaseToppedUp toppedUp) =>
        new(toppedUp.Amount, toppedUp.Deposit, toppedUp.TransactionHash, toppedUp.BlockNumber);

    private static EscrowSettled Settled(EscrowLeaseSettled settled) =>
        new(settled.Provider, settled.Amount, settled.TotalPaid, settled.TransactionHash, settled.BlockNumber);

    private static EscrowClosed Closed(EscrowLeaseClosed closed) => new(closed.Refund, closed.TransactionHash, closed.BlockNumber);

    private static EscrowClosing Closing(EscrowLeaseClosing closing) => new(closing.Expiry, closing.TransactionHash, closing.BlockNumber);

    /// <summary>Puts this host's watch term on the calls that follow; a host without the watch delivers nothing.</summary>
    private IDisposable Fenced() =>
        cursor.Fence?.Enter() ?? throw new InvalidOperationException("This host does not hold the escrow's watch: no chain event is delivered from it.");

    private IAccountGrain Account(string address) => grains.GetGrain<IAccountGrain>(AccountKeys.Normalize(address));

    /// <summary>The lease's grain, unless the market knows the lease and the event is not its tenant's (a lease the market does not know is left to its grain, which ignores it).</summary>
    private async Task<ILeaseGrain?> TenantsLeaseAsync(Guid leaseId, string tenant)
    {
        var lease = grains.GetGrain<ILeaseGrain>(leaseId);
        return await lease.GetAsync() is not { } snapshot || AccountKeys.Normalize(tenant) == snapshot.Tenant ? lease : null;
    }
}
