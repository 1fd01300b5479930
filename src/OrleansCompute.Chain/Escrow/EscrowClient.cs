using System.Numerics;
using System.Runtime.CompilerServices;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Util;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// The escrow contract from the outside: reads, and the writes a tenant, provider or anyone makes. Each write
/// is sent by the <see cref="TransactionSender"/> that owns the acting key, so one client serves every account.
/// </summary>
public sealed class EscrowClient
{
    private readonly ChainRpc _rpc;

    // approve + openLease are two transactions; two opens by one tenant must not interleave or the second
    // approve would overwrite the allowance the first openLease is about to spend.
    private readonly ConditionalWeakTable<TransactionSender, SemaphoreSlim> _openGates = new();

    public EscrowClient(ChainRpc rpc, string escrowAddress, string creditAddress)
    {
        _rpc = rpc;
        EscrowAddress = escrowAddress;
        Credit = new ComputeCreditClient(rpc, creditAddress);
    }

    public string EscrowAddress { get; }

    public ComputeCreditClient Credit { get; }

    // Reads

    /// <returns>The lease, or null when the escrow has never seen this id.</returns>
    public async Task<EscrowLease?> GetLeaseAsync(Guid leaseId, CancellationToken cancellationToken = default)
    {
        var lease = await GetLeaseByChainIdAsync(LeaseIds.ToChainId(leaseId), cancellationToken);
        return lease is null ? null : ToLease(leaseId, lease);
    }

    /// <returns>The raw stored lease, or null when its tenant is the zero address (unknown id).</returns>
    public async Task<LeasesOutputDTO?> GetLeaseByChainIdAsync(BigInteger chainLeaseId, CancellationToken cancellationToken = default)
    {
        var lease = await _rpc.QueryOutputAsync<LeasesFunction, LeasesOutputDTO>(EscrowAddress, new LeasesFunction { LeaseId = chainLeaseId }, cancellationToken);
        return lease.Tenant.IsAnEmptyAddress() || AddressUtil.Current.IsZeroAddress(lease.Tenant) ? null : lease;
    }

    public async Task<Credits> GetProviderBalanceAsync(string provider, CancellationToken cancellationToken = default) =>
        CreditsOnChain.FromUnits(await _rpc.QueryAsync<ProviderBalanceFunction, BigInteger>(
            EscrowAddress, new ProviderBalanceFunction { Provider = provider }, cancellationToken));

    public Task<Credits> GetTotalEscrowedAsync(CancellationToken cancellationToken = default) => ReadTotalAsync(new TotalEscrowedFunction(), null, cancellationToken);

    public Task<Credits> GetTotalOwedAsync(CancellationToken cancellationToken = default) => ReadTotalAsync(new TotalOwedFunction(), null, cancellationToken);

    /// <summary>Token balance, escrowed and owed totals read at one block, so they can be compared.</summary>
    public async Task<EscrowBalanceSheet> GetBalanceSheetAsync(CancellationToken cancellationToken = default)
    {
        var number = await _rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync(), cancellationToken);
        var block = new BlockParameter(number);
        var balance = await _rpc.QueryAsync<Contracts.ComputeCredit.BalanceOfFunction, BigInteger>(
            Credit.CreditAddress, new Contracts.ComputeCredit.BalanceOfFunction { Account = EscrowAddress }, cancellationToken, block);
        var escrowed = await ReadTotalAsync(new TotalEscrowedFunction(), block, cancellationToken);
        var owed = await ReadTotalAsync(new TotalOwedFunction(), block, cancellationToken);
        return new EscrowBalanceSheet((long)number.Value, CreditsOnChain.FromUnits(balance), escrowed, owed);
    }

    /// <summary>The escrow's EIP-712 domain (ERC-5267), to check that vouchers are signed for this contract and chain.</summary>
    public Task<Eip712DomainOutputDTO> GetEip712DomainAsync(CancellationToken cancellationToken = default) =>
        _rpc.QueryOutputAsync<Eip712DomainFunction, Eip712DomainOutputDTO>(EscrowAddress, new Eip712DomainFunction(), cancellationToken);

    /// <summary>The digest the contract expects the tenant to have signed.</summary>
    public Task<byte[]> HashVoucherAsync(Voucher voucher, CancellationToken cancellationToken = default) =>
        _rpc.QueryAsync<HashVoucherFunction, byte[]>(EscrowAddress, new HashVoucherFunction { Voucher = voucher }, cancellationToken);

    public Task<string> GetCreditAddressAsync(CancellationToken cancellationToken = default) =>
        _rpc.QueryAsync<CreditFunction, string>(EscrowAddress, new CreditFunction(), cancellationToken);

    // Writes

    /// <summary>Tenant: approves the escrow for <paramref name="deposit"/>, then opens the lease, which pulls the deposit.</summary>
    /// <returns>The openLease transaction hash.</returns>
    public async Task<string> ApproveAndOpenLeaseAsync(
        TransactionSender tenant, Guid leaseId, string provider, Credits deposit, DateTimeOffset expiry, CancellationToken cancellationToken = default)
    {
        var gate = _openGates.GetValue(tenant, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            await Credit.ApproveAsync(tenant, EscrowAddress, deposit, cancellationToken);
            var receipt = await tenant.SendAsync(EscrowAddress, new OpenLeaseFunction
            {
                LeaseId = LeaseIds.ToChainId(leaseId),
                Provider = provider,
                Deposit = CreditsOnChain.ToUnits(deposit),
                Expiry = UnixTime.ToSeconds(expiry),
            }, cancellationToken);
            return receipt.TransactionHash;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Anyone: redeems one tenant-signed voucher.</summary>
    public Task<TransactionReceipt> SettleAsync(TransactionSender sender, SignedVoucher voucher, CancellationToken cancellationToken = default) =>
        sender.SendAsync(EscrowAddress, new SettleFunction
        {
            Voucher = VoucherSigner.ToChainVoucher(voucher),
            Signature = SignatureBytesOrEmpty(voucher.Signature),
        }, cancellationToken);

    /// <summary>Anyone: redeems several vouchers in one transaction; any bad voucher reverts the whole batch.</summary>
    public Task<TransactionReceipt> SettleBatchAsync(TransactionSender sender, IReadOnlyList<SignedVoucher> vouchers, CancellationToken cancellationToken = default) =>
        sender.SendAsync(EscrowAddress, ToSettleBatch(vouchers), cancellationToken);

    /// <summary>Anyone, after expiry: closes the lease and returns the unpaid deposit to its tenant.</summary>
    public Task<TransactionReceipt> RefundAsync(TransactionSender sender, Guid leaseId, CancellationToken cancellationToken = default) =>
        sender.SendAsync(EscrowAddress, new RefundFunction { LeaseId = LeaseIds.ToChainId(leaseId) }, cancellationToken);

    /// <summary>Provider: pulls its whole balance.</summary>
    public Task<TransactionReceipt> WithdrawAsync(TransactionSender provider, CancellationToken cancellationToken = default) =>
        provider.SendAsync(EscrowAddress, new WithdrawFunction(), cancellationToken);

    internal static SettleBatchFunction ToSettleBatch(IReadOnlyList<SignedVoucher> vouchers) => new()
    {
        Vouchers = vouchers.Select(VoucherSigner.ToChainVoucher).ToList(),
        Signatures = vouchers.Select(v => SignatureBytesOrEmpty(v.Signature)).ToList(),
    };

    // A signature that is not even hex goes on chain as empty bytes, so the contract rejects it by name (BadSignature).
    private static byte[] SignatureBytesOrEmpty(string signature)
    {
        try
        {
            return VoucherSigner.SignatureBytes(signature);
        }
        catch (FormatException)
        {
            return [];
        }
    }

    private async Task<Credits> ReadTotalAsync<TFunction>(TFunction function, BlockParameter? block, CancellationToken cancellationToken)
        where TFunction : Nethereum.Contracts.FunctionMessage, new() =>
        CreditsOnChain.FromUnits(await _rpc.QueryAsync<TFunction, BigInteger>(EscrowAddress, function, cancellationToken, block));

    private static EscrowLease ToLease(Guid leaseId, LeasesOutputDTO lease) => new(
        leaseId,
        AddressUtil.Current.ConvertToChecksumAddress(lease.Tenant),
        AddressUtil.Current.ConvertToChecksumAddress(lease.Provider),
        CreditsOnChain.FromUnits(lease.Deposit),
        CreditsOnChain.FromUnits(lease.Paid),
        UnixTime.FromSeconds(lease.Expiry),
        lease.Closed);
}
