using Nethereum.Contracts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Cli.Devnet;

namespace OrleansCompute.Cli.Commands;

/// <summary>
/// What the tenant does on chain itself, with its own key: fund a lease's escrow (on a free channel of its signer, drawing
/// on the tenant's escrow balance first), sign its vouchers, and see or withdraw its escrow balance.
/// The chain and contracts come from the local devnet file, not from the host, so a host cannot redirect a tenant's money.
/// </summary>
public sealed class TenantChain(DevnetConfig devnet)
{
    public static TenantChain Connect(CliContext context) => new(context.DevnetConfig());

    /// <param name="sessionKey">
    /// The private key of a session key to sign the lease's vouchers instead of the tenant's key (it consents here), or
    /// null (the default) for the tenant's own key. The lease's vouchers, final ones too, must then be signed by it.
    /// </param>
    /// <returns>The openLease transaction hash and the channel the lease took.</returns>
    public async Task<OpenedLease> FundEscrowAsync(TenantWallet wallet, LeaseSnapshot lease, CancellationToken ct, string? sessionKey = null)
    {
        var (rpc, escrow) = await EscrowPaidFromAsync(wallet, lease.Deposit, $"the lease needs a deposit of {lease.Deposit}.", ct);
        using var sender = new TransactionSender(rpc, wallet.PrivateKey, devnet.ChainId);
        SessionKeyConsent? consent = null;
        if (sessionKey is not null)
        {
            var channel = await escrow.FindFreeChannelAsync(new Nethereum.Signer.EthECKey(sessionKey).GetPublicAddress(), lease.Id, cancellationToken: ct);
            consent = Vouchers().SignSessionKeyConsent(sessionKey, wallet.Address, lease.Id, channel);
        }
        return await escrow.OpenLeaseAsync(sender, lease.Id, lease.ProviderAddress!, lease.Deposit, lease.EscrowExpiry!.Value, consent, cancellationToken: ct);
    }

    /// <summary>
    /// The final vouchers of <paramref name="ended"/> leases, each signed by its lease's signer. The leases one signer pays
    /// one provider are signed together, as one bundle of up to the escrow's 255 a signature: the provider's settlement
    /// sends them in one entry whose one signature the escrow checks once, for far less gas per lease. A lease with no
    /// other of its signer at its provider is signed on its own.
    /// </summary>
    /// <param name="sessionKeys">A lease's session key, or null when its vouchers are signed with the tenant's wallet key.</param>
    /// <returns>Each lease's final voucher, in the order of <paramref name="ended"/>.</returns>
    public IReadOnlyList<SignedVoucher> SignFinalVouchers(TenantWallet wallet, IReadOnlyList<LeaseSnapshot> ended, Func<Guid, SessionKey?> sessionKeys)
    {
        var vouchers = Vouchers();
        var signers = ended.Select(l => sessionKeys(l.Id) is { } session ? (Key: session.PrivateKey, Address: session.Address) : (Key: wallet.PrivateKey, Address: wallet.Address)).ToList();
        var signed = new SignedVoucher[ended.Count];
        var groups = Enumerable.Range(0, ended.Count)
            .GroupBy(i => (Signer: signers[i].Address.ToLowerInvariant(), Provider: ended[i].ProviderAddress?.ToLowerInvariant()));
        foreach (var chunk in groups.SelectMany(group => group.Chunk(EscrowBatch.MaxBundle)))
        {
            var requests = chunk.Select(i => ended[i].VoucherToSign
                ?? throw new CliException($"Lease {LeaseIds.Format(ended[i].Id)} is {ended[i].Status} with no final voucher to sign.")).ToList();
            var key = signers[chunk[0]].Key;
            IReadOnlyList<SignedVoucher> members = chunk.Length == 1
                ? [vouchers.Sign(key, requests[0].LeaseId, requests[0].Channel, requests[0].Amount, requests[0].IsFinal)]
                : vouchers.SignBundle(key, requests);
            for (var j = 0; j < chunk.Length; j++) signed[chunk[j]] = members[j];
        }
        return signed;
    }

    /// <summary>
    /// A voucher for the lease on its signer's <paramref name="channel"/>, signed by the lease's signer: its session key when
    /// it has one, else the tenant's wallet key.
    /// </summary>
    public SignedVoucher SignVoucher(TenantWallet wallet, Guid leaseId, uint channel, Abstractions.Credits amount, bool isFinal, SessionKey? sessionKey) =>
        Vouchers().Sign(sessionKey?.PrivateKey ?? wallet.PrivateKey, leaseId, channel, amount, isFinal);

    /// <summary>Adds <paramref name="amount"/> to the lease's escrow, from the tenant's escrow balance first, then its wallet.</summary>
    /// <returns>The topUp transaction hash.</returns>
    public async Task<string> TopUpAsync(TenantWallet wallet, LeaseSnapshot lease, Abstractions.Credits amount, CancellationToken ct)
    {
        if (lease.Channel is not { } channel)
            throw new CliException($"Lease {LeaseIds.Format(lease.Id)} has no escrow the market has seen yet; nothing to top up.");
        var (rpc, escrow) = await EscrowPaidFromAsync(wallet, amount, $"the top-up is {amount}.", ct);
        using var sender = new TransactionSender(rpc, wallet.PrivateKey, devnet.ChainId);
        return await escrow.TopUpAsync(sender, lease.Id, lease.VoucherSigner ?? wallet.Address, channel, amount, ct);
    }

    /// <summary>
    /// Leaves a lease without the market: signs a final voucher for <paramref name="amount"/> with the lease's signer and
    /// sends it to the escrow from the tenant's own wallet. The escrow pays it and brings the lease's expiry forward to now;
    /// the rest is refundable after the claim window (<see cref="RefundAsync"/>). The lease is found on chain, not asked of
    /// the host, so this works with the market down.
    /// </summary>
    /// <returns>The lease as the escrow holds it afterwards, and the settle transaction hash.</returns>
    public async Task<(EscrowLease Lease, string Transaction)> LeaveAsync(TenantWallet wallet, Guid leaseId, Abstractions.Credits amount, SessionKey? sessionKey, CancellationToken ct)
    {
        var rpc = new ChainRpc(devnet.RpcUrl);
        var escrow = Escrow(rpc);
        var lease = await OpenLeaseOnChainAsync(escrow, wallet, leaseId, ct);
        var signerKey = string.Equals(lease.Signer, wallet.Address, StringComparison.OrdinalIgnoreCase) ? wallet.PrivateKey
            : sessionKey is { } session && string.Equals(session.Address, lease.Signer, StringComparison.OrdinalIgnoreCase) ? session.PrivateKey
            : throw new CliException($"Lease {LeaseIds.Format(leaseId)} is signed for by {lease.Signer}, a session key this machine does not hold.");
        var voucher = Vouchers().Sign(signerKey, leaseId, lease.Channel, amount, isFinal: true);
        using var sender = new TransactionSender(rpc, wallet.PrivateKey, devnet.ChainId);
        var receipt = await escrow.SettleAsync(sender, voucher, ct);
        return ((await escrow.GetLeaseAsync(leaseId, lease.Signer, lease.Channel, ct))!, receipt.TransactionHash);
    }

    /// <summary>
    /// Credits what a lease's escrow holds beyond what it paid to the tenant's escrow balance, once its expiry and the claim
    /// window after it have passed: the exit that needs nobody, market or provider. Found on chain, like <see cref="LeaveAsync"/>.
    /// </summary>
    /// <returns>The amount refunded and the refund transaction hash.</returns>
    public async Task<(Abstractions.Credits Refund, string Transaction)> RefundAsync(TenantWallet wallet, Guid leaseId, CancellationToken ct)
    {
        var rpc = new ChainRpc(devnet.RpcUrl);
        var escrow = Escrow(rpc);
        var lease = await OpenLeaseOnChainAsync(escrow, wallet, leaseId, ct);
        var refundableFrom = lease.Expiry + await escrow.GetClaimWindowAsync(ct);
        var chainNow = await rpc.GetLatestBlockTimeAsync(ct);
        if (chainNow <= refundableFrom)
            throw new CliException($"Lease {LeaseIds.Format(leaseId)} is refundable after {refundableFrom:O} (its escrow expires {lease.Expiry:O}, then the " +
                $"claim window during which the provider's vouchers still settle); the chain's time is {chainNow:O}.");
        using var sender = new TransactionSender(rpc, wallet.PrivateKey, devnet.ChainId);
        var receipt = await escrow.RefundAsync(sender, leaseId, lease.Signer, lease.Channel, ct);
        var closed = receipt.DecodeAllEvents<LeaseClosedEventDTO>().Single().Event;
        return (CreditsOnChain.FromUnits(closed.Refund), receipt.TransactionHash);
    }

    private static async Task<EscrowLease> OpenLeaseOnChainAsync(EscrowClient escrow, TenantWallet wallet, Guid leaseId, CancellationToken ct) =>
        await escrow.FindOpenedAsync(leaseId, wallet.Address, ct) switch
        {
            null => throw new CliException($"{wallet.Name} ({wallet.Address}) opened no escrow for lease {LeaseIds.Format(leaseId)} on this chain."),
            { Closed: true } => throw new CliException($"The escrow of lease {LeaseIds.Format(leaseId)} is closed already: what it did not pay is in {wallet.Name}'s escrow balance (occ balance)."),
            { } open => open,
        };

    /// <summary>What the tenant holds in the escrow outside its leases (refunds, deposits), and in its wallet.</summary>
    public Task<TenantFunds> BalancesAsync(TenantWallet wallet, CancellationToken ct) =>
        Escrow(new ChainRpc(devnet.RpcUrl)).GetTenantFundsAsync(wallet.Address, ct);

    /// <summary>Pays the tenant's whole escrow balance back to its wallet.</summary>
    /// <returns>The amount and the withdrawBalance transaction hash.</returns>
    public async Task<(Abstractions.Credits Amount, string Transaction)> WithdrawBalanceAsync(TenantWallet wallet, CancellationToken ct)
    {
        var rpc = new ChainRpc(devnet.RpcUrl);
        var escrow = Escrow(rpc);
        var balance = await escrow.GetTenantBalanceAsync(wallet.Address, ct);
        if (balance == Abstractions.Credits.Zero)
            throw new CliException($"Tenant {wallet.Name} ({wallet.Address}) holds nothing in the escrow to withdraw.");
        using var sender = new TransactionSender(rpc, wallet.PrivateKey, devnet.ChainId);
        return (balance, (await escrow.WithdrawBalanceAsync(sender, ct)).TransactionHash);
    }

    /// <summary>
    /// The escrow, once the tenant is seen to hold <paramref name="amount"/> in its escrow balance and wallet together;
    /// otherwise a refusal saying what it was for.
    /// </summary>
    private async Task<(ChainRpc Rpc, EscrowClient Escrow)> EscrowPaidFromAsync(TenantWallet wallet, Abstractions.Credits amount, string purpose, CancellationToken ct)
    {
        var rpc = new ChainRpc(devnet.RpcUrl);
        var escrow = Escrow(rpc);
        var funds = await escrow.GetTenantFundsAsync(wallet.Address, ct);
        if (funds.Total < amount)
            throw new CliException($"Tenant {wallet.Name} ({wallet.Address}) holds {funds.InWallet} credits and {funds.InEscrow} in its escrow balance; {purpose}");
        return (rpc, escrow);
    }

    private EscrowClient Escrow(ChainRpc rpc) => new(rpc, devnet.EscrowAddress, devnet.CreditAddress);

    private VoucherSigner Vouchers() => new(devnet.ChainId, devnet.EscrowAddress);
}
