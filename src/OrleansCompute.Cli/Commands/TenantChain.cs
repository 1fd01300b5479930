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
    /// null (the default) for the tenant's own key. The lease's vouchers, final ones too, must then be signed by it.
    /// </param>
    /// <returns>The openLease transaction hash.</returns>
    public async Task<string> FundEscrowAsync(TenantWallet wallet, LeaseSnapshot lease, CancellationToken ct, string? sessionKey = null)
    {
        var (rpc, escrow) = await EscrowPaidFromAsync(wallet, lease.Deposit, $"the lease needs a deposit of {lease.Deposit}. Nothing was reserved.", ct);
        using var sender = new TransactionSender(rpc, wallet.PrivateKey, devnet.ChainId);
        var consent = sessionKey is null ? null : Vouchers().SignSessionKeyConsent(sessionKey, wallet.Address, lease.Id);
        return await escrow.ApproveAndOpenLeaseAsync(sender, lease.Id, lease.ProviderAddress!, lease.Deposit, lease.EscrowExpiry!.Value, consent, ct);
    }

    public SignedVoucher SignFinalVoucher(TenantWallet wallet, VoucherRequest request, SessionKey? sessionKey = null) =>
        SignVoucher(wallet, request.LeaseId, request.Amount, request.IsFinal, sessionKey);

    /// <summary>A voucher signed by the lease's signer: its session key when it has one, else the tenant's wallet key.</summary>
    public SignedVoucher SignVoucher(TenantWallet wallet, Guid leaseId, Abstractions.Credits amount, bool isFinal, SessionKey? sessionKey) =>
        Vouchers().Sign(sessionKey?.PrivateKey ?? wallet.PrivateKey, leaseId, amount, isFinal);

    /// <summary>Adds <paramref name="amount"/> to the lease's escrow from the tenant's wallet (approve, then topUp).</summary>
    /// <returns>The topUp transaction hash.</returns>
    public async Task<string> TopUpAsync(TenantWallet wallet, LeaseSnapshot lease, Abstractions.Credits amount, CancellationToken ct)
    {
        var (rpc, escrow) = await EscrowPaidFromAsync(wallet, amount, $"the top-up is {amount}.", ct);
        using var sender = new TransactionSender(rpc, wallet.PrivateKey, devnet.ChainId);
        return await escrow.ApproveAndTopUpAsync(sender, lease.Id, lease.VoucherSigner ?? wallet.Address, amount, ct);
    }

    /// <summary>The escrow, once the wallet is seen to hold <paramref name="amount"/>; otherwise a refusal saying what it was for.</summary>
    private async Task<(ChainRpc Rpc, EscrowClient Escrow)> EscrowPaidFromAsync(TenantWallet wallet, Abstractions.Credits amount, string purpose, CancellationToken ct)
    {
        var rpc = new ChainRpc(devnet.RpcUrl);
        var escrow = new EscrowClient(rpc, devnet.EscrowAddress, devnet.CreditAddress);
        var balance = await escrow.Credit.BalanceOfAsync(wallet.Address, ct);
        if (balance < amount)
            throw new CliException($"Tenant {wallet.Name} ({wallet.Address}) holds {balance} credits; {purpose}");
        return (rpc, escrow);
    }

    private VoucherSigner Vouchers() => new(devnet.ChainId, devnet.EscrowAddress);
}
