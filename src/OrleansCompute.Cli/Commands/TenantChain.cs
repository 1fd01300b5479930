using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Cli.Devnet;

namespace OrleansCompute.Cli.Commands;

/// <summary>
/// What the tenant does on chain itself, with its own key: fund a lease's escrow and sign its final voucher.
/// The chain and contracts come from the local devnet file, not from the host, so a host cannot redirect a tenant's money.
/// </summary>
public sealed class TenantChain(DevnetConfig devnet)
{
    public static TenantChain Connect(CliContext context) => new(context.DevnetConfig());

    /// <param name="sessionKey">
    /// The private key of a session key to sign the lease's vouchers instead of the tenant's key (it consents here), or
    /// null (the default) for the tenant's own key. The market's final voucher must still come from the tenant.
    /// </param>
    /// <returns>The openLease transaction hash.</returns>
    public async Task<string> FundEscrowAsync(TenantWallet wallet, LeaseSnapshot lease, CancellationToken ct, string? sessionKey = null)
    {
        var rpc = new ChainRpc(devnet.RpcUrl);
        var escrow = new EscrowClient(rpc, devnet.EscrowAddress, devnet.CreditAddress);
        var balance = await escrow.Credit.BalanceOfAsync(wallet.Address, ct);
        if (balance < lease.Deposit)
            throw new CliException($"Tenant {wallet.Name} ({wallet.Address}) holds {balance} credits; the lease needs a deposit of {lease.Deposit}. Nothing was reserved.");

        using var sender = new TransactionSender(rpc, wallet.PrivateKey, devnet.ChainId);
        var consent = sessionKey is null ? null : Vouchers().SignSessionKeyConsent(sessionKey, wallet.Address, lease.Id);
        return await escrow.ApproveAndOpenLeaseAsync(sender, lease.Id, lease.ProviderAddress!, lease.Deposit, lease.EscrowExpiry!.Value, consent, ct);
    }

    public SignedVoucher SignFinalVoucher(TenantWallet wallet, VoucherRequest request) =>
        Vouchers().Sign(wallet.PrivateKey, request.LeaseId, request.Amount, request.IsFinal);

    private VoucherSigner Vouchers() => new(devnet.ChainId, devnet.EscrowAddress);
}
