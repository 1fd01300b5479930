using System.Numerics;
using System.Runtime.CompilerServices;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
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
/// The escrow contract from the outside: reads, and the writes a tenant, provider, owner or anyone makes. Each write
/// is sent by the <see cref="TransactionSender"/> that owns the acting key, so one client serves every account.
/// A lease is named on chain by its signer (the tenant, unless it named a session key), the signer's channel it was opened
/// on, and its id. Tenants hold a balance in the escrow: refunds land there, and opening or topping up a lease draws on it
/// before pulling the rest from the wallet.
/// </summary>
public sealed class EscrowClient
{
    private readonly ChainRpc _rpc;

    // approve + openLease (or topUp, deposit) are two transactions; two by one tenant must not interleave or the second
    // approve would overwrite the allowance the first is about to spend.
    private readonly ConditionalWeakTable<TransactionSender, SemaphoreSlim> _pullGates = new();

    public EscrowClient(ChainRpc rpc, string escrowAddress, string creditAddress)
    {
        _rpc = rpc;
        EscrowAddress = escrowAddress;
        Credit = new ComputeCreditClient(rpc, creditAddress);
    }

    public string EscrowAddress { get; }

    public ComputeCreditClient Credit { get; }

    // Reads

    /// <returns>
    /// The lease signed for by <paramref name="signer"/> on its channel <paramref name="channel"/>, or null when the escrow
    /// has none with this id there. A lease a later one replaced on its channel comes back closed and
    /// <see cref="EscrowLease.Superseded"/>, with its amounts no longer on chain (its events have them).
    /// </returns>
    public async Task<EscrowLease?> GetLeaseAsync(Guid leaseId, string signer, uint channel, CancellationToken cancellationToken = default)
    {
        var lease = await _rpc.QueryOutputAsync<LeaseFunction, LeaseOutputDTO>(
            EscrowAddress, new LeaseFunction { Signer = signer, Channel = channel, LeaseId = LeaseIds.ToChainId(leaseId) }, cancellationToken);
        if (!IsZero(lease.Tenant)) return ToLease(leaseId, signer, channel, lease);
        return lease.Closed
            ? new EscrowLease(leaseId, string.Empty, string.Empty, Credits.Zero, Credits.Zero, default, Closed: true)
            {
                Signer = AddressUtil.Current.ConvertToChecksumAddress(signer), Channel = channel, Superseded = true,
            }
            : null;
    }

    /// <returns>
    /// The lease <paramref name="tenant"/> opened under <paramref name="leaseId"/>, found by its <c>LeaseOpened</c> event
    /// alone (the chain, not the market, says which signer and channel it took), as the escrow holds it now; null when the
    /// tenant opened none. Of several escrows a tenant opened under one id, the first counts, as it does for the market.
    /// </returns>
    public async Task<EscrowLease?> FindOpenedAsync(Guid leaseId, string tenant, CancellationToken cancellationToken = default)
    {
        var opened = ABITypedRegistry.GetEvent<LeaseOpenedEventDTO>();
        var filter = new NewFilterInput
        {
            Address = [EscrowAddress],
            FromBlock = BlockParameter.CreateEarliest(),
            ToBlock = BlockParameter.CreateLatest(),
            // LeaseOpened(bytes32 indexed key, uint256 indexed leaseId, address indexed tenant, ...)
            Topics = [opened.Sha3Signature.EnsureHexPrefix(), null, TopicOf(LeaseIds.ToChainId(leaseId)), TopicOf(tenant)],
        };
        var logs = await _rpc.CallAsync(web3 => web3.Eth.Filters.GetLogs.SendRequestAsync(filter), cancellationToken);
        if (logs.Where(l => !l.Removed).OrderBy(l => (l.BlockNumber.Value, l.LogIndex.Value)).FirstOrDefault() is not { } first) return null;
        var e = first.DecodeEvent<LeaseOpenedEventDTO>().Event;
        return await GetLeaseAsync(leaseId, e.Signer, (uint)e.Channel, cancellationToken);
    }

    private static string TopicOf(BigInteger value) => "0x" + value.ToString("x64");

    private static string TopicOf(string address) => "0x" + address[2..].ToLowerInvariant().PadLeft(64, '0');

    /// <summary>What <paramref name="tenant"/> holds in the escrow outside its leases: refunds and deposits, withdrawable at any time.</summary>
    public async Task<Credits> GetTenantBalanceAsync(string tenant, CancellationToken cancellationToken = default) =>
        CreditsOnChain.FromUnits(await _rpc.QueryAsync<TenantBalanceFunction, BigInteger>(
            EscrowAddress, new TenantBalanceFunction { Tenant = tenant }, cancellationToken));

    /// <summary>What <paramref name="tenant"/> can pay a lease's deposit from: its escrow balance, which openLease draws first, and its wallet.</summary>
    public async Task<TenantFunds> GetTenantFundsAsync(string tenant, CancellationToken cancellationToken = default)
    {
        var inEscrow = GetTenantBalanceAsync(tenant, cancellationToken);
        var inWallet = Credit.BalanceOfAsync(tenant, cancellationToken);
        return new TenantFunds(await inWallet, await inEscrow);
    }

    /// <summary>
    /// The first channel of <paramref name="signer"/>, from <paramref name="from"/> on, that can take lease
    /// <paramref name="leaseId"/> now (the contract's <c>freeChannel</c>): one never used, or one whose lease is closed and
    /// older than this one.
    /// </summary>
    public async Task<uint> FindFreeChannelAsync(string signer, Guid leaseId, uint from = 0, CancellationToken cancellationToken = default) =>
        (uint)await _rpc.QueryAsync<FreeChannelFunction, BigInteger>(
            EscrowAddress, new FreeChannelFunction { Signer = signer, From = from, LeaseId = LeaseIds.ToChainId(leaseId) }, cancellationToken);

    public async Task<Credits> GetProviderBalanceAsync(string provider, CancellationToken cancellationToken = default) =>
        CreditsOnChain.FromUnits(await _rpc.QueryAsync<ProviderBalanceFunction, BigInteger>(
            EscrowAddress, new ProviderBalanceFunction { Provider = provider }, cancellationToken));

    /// <summary>What the escrow holds for tenants: open escrows plus tenant balances.</summary>
    public Task<Credits> GetTotalHeldAsync(CancellationToken cancellationToken = default) => ReadTotalAsync(new TotalHeldFunction(), null, cancellationToken);

    public Task<Credits> GetTotalOwedAsync(CancellationToken cancellationToken = default) => ReadTotalAsync(new TotalOwedFunction(), null, cancellationToken);

    public Task<Credits> GetFeesAccruedAsync(CancellationToken cancellationToken = default) => ReadTotalAsync(new FeesAccruedFunction(), null, cancellationToken);

    public async Task<int> GetFeeBpsAsync(CancellationToken cancellationToken = default) =>
        (int)await _rpc.QueryAsync<FeeBpsFunction, BigInteger>(EscrowAddress, new FeeBpsFunction(), cancellationToken);

    public async Task<TimeSpan> GetClaimWindowAsync(CancellationToken cancellationToken = default) =>
        TimeSpan.FromSeconds((double)await _rpc.QueryAsync<ClaimWindowFunction, BigInteger>(EscrowAddress, new ClaimWindowFunction(), cancellationToken));

    public Task<bool> IsPausedAsync(CancellationToken cancellationToken = default) =>
        _rpc.QueryAsync<PausedFunction, bool>(EscrowAddress, new PausedFunction(), cancellationToken);

    /// <summary>Token balance, held-for-tenants, owed and fee totals read at one block, so they can be compared.</summary>
    public async Task<EscrowBalanceSheet> GetBalanceSheetAsync(CancellationToken cancellationToken = default)
    {
        var number = await _rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync(), cancellationToken);
        var block = new BlockParameter(number);
        var balance = await _rpc.QueryAsync<Contracts.ComputeCredit.BalanceOfFunction, BigInteger>(
            Credit.CreditAddress, new Contracts.ComputeCredit.BalanceOfFunction { Account = EscrowAddress }, cancellationToken, block);
        var held = await ReadTotalAsync(new TotalHeldFunction(), block, cancellationToken);
        var owed = await ReadTotalAsync(new TotalOwedFunction(), block, cancellationToken);
        var fees = await ReadTotalAsync(new FeesAccruedFunction(), block, cancellationToken);
        return new EscrowBalanceSheet((long)number.Value, CreditsOnChain.FromUnits(balance), held, owed, fees);
    }

    /// <summary>The escrow's EIP-712 domain (ERC-5267), to check that vouchers are signed for this contract and chain.</summary>
    public Task<Eip712DomainOutputDTO> GetEip712DomainAsync(CancellationToken cancellationToken = default) =>
        _rpc.QueryOutputAsync<Eip712DomainFunction, Eip712DomainOutputDTO>(EscrowAddress, new Eip712DomainFunction(), cancellationToken);

    /// <summary>The digest the contract expects the lease's signer to have signed.</summary>
    public Task<byte[]> HashVoucherAsync(Voucher voucher, CancellationToken cancellationToken = default) =>
        _rpc.QueryAsync<HashVoucherFunction, byte[]>(EscrowAddress, new HashVoucherFunction { Voucher = voucher }, cancellationToken);

    /// <summary>The digest the signer of a bundle of <paramref name="vouchers"/> signs once for all of them.</summary>
    public Task<byte[]> HashVoucherBundleAsync(IReadOnlyList<Voucher> vouchers, CancellationToken cancellationToken = default) =>
        _rpc.QueryAsync<HashVoucherBundleFunction, byte[]>(EscrowAddress, new HashVoucherBundleFunction { Vouchers = [.. vouchers] }, cancellationToken);

    /// <summary>The digest a session key signs to consent to sign for <paramref name="tenant"/>'s lease on the key's channel.</summary>
    public Task<byte[]> HashSessionKeyAsync(string tenant, Guid leaseId, uint channel, CancellationToken cancellationToken = default) =>
        _rpc.QueryAsync<HashSessionKeyFunction, byte[]>(
            EscrowAddress, new HashSessionKeyFunction { Tenant = tenant, LeaseId = LeaseIds.ToChainId(leaseId), Channel = channel }, cancellationToken);

    public Task<byte[]> LeaseKeyAsync(string signer, uint channel, CancellationToken cancellationToken = default) =>
        _rpc.QueryAsync<LeaseKeyFunction, byte[]>(EscrowAddress, new LeaseKeyFunction { Signer = signer, Channel = channel }, cancellationToken);

    public Task<string> GetCreditAddressAsync(CancellationToken cancellationToken = default) =>
        _rpc.QueryAsync<CreditFunction, string>(EscrowAddress, new CreditFunction(), cancellationToken);

    // Writes

    /// <summary>
    /// Tenant: opens the lease on a free channel of its signer (the tenant, or the session key whose
    /// <paramref name="sessionKey"/> consent names the channel). The deposit is drawn from the tenant's escrow balance first;
    /// only what the balance lacks is approved and pulled from the wallet.
    /// </summary>
    /// <param name="channel">The tenant's channel to use; by default the first free one (<see cref="FindFreeChannelAsync"/>).</param>
    /// <returns>The openLease transaction hash and the channel the lease took.</returns>
    public Task<OpenedLease> OpenLeaseAsync(
        TransactionSender tenant, Guid leaseId, string provider, Credits deposit, DateTimeOffset expiry,
        SessionKeyConsent? sessionKey = null, uint? channel = null, CancellationToken cancellationToken = default) =>
        PullAndSendAsync(tenant, deposit, async () =>
        {
            var chainLeaseId = LeaseIds.ToChainId(leaseId);
            var units = CreditsOnChain.ToUnits(deposit);
            var seconds = new BigInteger(UnixTime.ToSeconds(expiry));
            var chosen = sessionKey?.Channel ?? channel ?? await FindFreeChannelAsync(tenant.Address, leaseId, cancellationToken: cancellationToken);
            var receipt = sessionKey is null
                ? await tenant.SendAsync(EscrowAddress, new OpenLeaseFunction
                {
                    LeaseId = chainLeaseId, Channel = chosen, Provider = provider, Amount = units, Expiry = seconds,
                }, cancellationToken)
                : await tenant.SendAsync(EscrowAddress, new OpenLeaseWithSessionKeyFunction
                {
                    LeaseId = chainLeaseId, Channel = chosen, Provider = provider, Amount = units, Expiry = seconds,
                    SessionKey = sessionKey.SessionKey, R = sessionKey.R, Vs = sessionKey.Vs,
                }, cancellationToken);
            return new OpenedLease(receipt.TransactionHash, chosen);
        }, cancellationToken);

    /// <summary>Tenant: adds <paramref name="amount"/> to a live lease's escrow, drawn from its balance first, the rest approved and pulled.</summary>
    /// <returns>The topUp transaction hash.</returns>
    public Task<string> TopUpAsync(TransactionSender tenant, Guid leaseId, string signer, uint channel, Credits amount, CancellationToken cancellationToken = default) =>
        PullAndSendAsync(tenant, amount, async () => (await tenant.SendAsync(EscrowAddress, new TopUpFunction
        {
            Signer = signer, Channel = channel, LeaseId = LeaseIds.ToChainId(leaseId), Amount = CreditsOnChain.ToUnits(amount),
        }, cancellationToken)).TransactionHash, cancellationToken);

    /// <summary>Tenant: pays <paramref name="amount"/> from its wallet into its escrow balance (approve, then deposit).</summary>
    /// <returns>The deposit transaction hash.</returns>
    public Task<string> DepositAsync(TransactionSender tenant, Credits amount, CancellationToken cancellationToken = default) =>
        ApproveAndSendAsync(tenant, amount, async () => (await tenant.SendAsync(
            EscrowAddress, new DepositFunction { Amount = CreditsOnChain.ToUnits(amount) }, cancellationToken)).TransactionHash, cancellationToken);

    /// <summary>Tenant: pays its whole escrow balance back to its wallet.</summary>
    public Task<TransactionReceipt> WithdrawBalanceAsync(TransactionSender tenant, CancellationToken cancellationToken = default) =>
        tenant.SendAsync(EscrowAddress, new WithdrawBalanceFunction(), cancellationToken);

    /// <summary>
    /// Anyone: redeems one signed voucher; a bad one reverts with the contract's named error. A final voucher closes the lease
    /// when a settler or the lease's provider sends it; from anyone else (the tenant leaving without the market) it pays and
    /// starts the lease's closing: the escrow expires now, and the rest is refundable after the claim window.
    /// </summary>
    /// <exception cref="ArgumentException">A bundled voucher: its signature covers the bundle, which only settleBatch takes.</exception>
    public Task<TransactionReceipt> SettleAsync(TransactionSender sender, SignedVoucher voucher, CancellationToken cancellationToken = default)
    {
        if (voucher.Bundle is not null)
            throw new ArgumentException($"The voucher for lease {voucher.LeaseId} is signed as part of a bundle; redeem it with settleBatch.", nameof(voucher));
        var (r, vs) = VoucherSigner.ToCompact(voucher.Signature) ?? (new byte[32], new byte[32]);
        return sender.SendAsync(EscrowAddress, new SettleFunction
        {
            LeaseId = LeaseIds.ToChainId(voucher.LeaseId),
            Channel = voucher.Channel,
            Amount = CreditsOnChain.ToUnits(voucher.Amount),
            IsFinal = voucher.IsFinal,
            R = r,
            Vs = vs,
        }, cancellationToken);
    }

    /// <summary>
    /// Anyone (final vouchers only from a settler): redeems several vouchers in one transaction, bundled ones with their whole bundle. Bad vouchers do not revert
    /// the batch: each is reported by a <c>SettleRejected</c> event in the receipt (see <see cref="EscrowSettlement"/>), and
    /// stale ones are skipped.
    /// </summary>
    public Task<TransactionReceipt> SettleBatchAsync(TransactionSender sender, IReadOnlyList<SignedVoucher> vouchers, CancellationToken cancellationToken = default) =>
        sender.SendAsync(EscrowAddress, ToSettleBatch(vouchers), cancellationToken);

    /// <summary>Anyone, after expiry plus the claim window: closes the lease and credits the unpaid deposit to its tenant's balance.</summary>
    public Task<TransactionReceipt> RefundAsync(TransactionSender sender, Guid leaseId, string signer, uint channel, CancellationToken cancellationToken = default) =>
        sender.SendAsync(EscrowAddress, new RefundFunction { Signer = signer, Channel = channel, LeaseId = LeaseIds.ToChainId(leaseId) }, cancellationToken);

    /// <summary>Provider: pulls its whole balance.</summary>
    public Task<TransactionReceipt> WithdrawAsync(TransactionSender provider, CancellationToken cancellationToken = default) =>
        provider.SendAsync(EscrowAddress, new WithdrawFunction(), cancellationToken);

    /// <summary>Owner: pays the accrued fees to <paramref name="to"/>.</summary>
    public Task<TransactionReceipt> WithdrawFeesAsync(TransactionSender owner, string to, CancellationToken cancellationToken = default) =>
        owner.SendAsync(EscrowAddress, new WithdrawFeesFunction { To = to }, cancellationToken);

    /// <summary>Owner: sets the settlement fee, at most the contract's cap.</summary>
    public Task<TransactionReceipt> SetFeeAsync(TransactionSender owner, int feeBps, CancellationToken cancellationToken = default) =>
        owner.SendAsync(EscrowAddress, new SetFeeFunction { FeeBps = feeBps }, cancellationToken);

    /// <summary>Owner: lets <paramref name="settler"/> submit final vouchers (or stops it): the market's settlement keys.</summary>
    public Task<TransactionReceipt> SetSettlerAsync(TransactionSender owner, string settler, bool allowed = true, CancellationToken cancellationToken = default) =>
        owner.SendAsync(EscrowAddress, new SetSettlerFunction { Settler = settler, Allowed = allowed }, cancellationToken);

    public Task<bool> IsSettlerAsync(string account, CancellationToken cancellationToken = default) =>
        _rpc.QueryAsync<IsSettlerFunction, bool>(EscrowAddress, new IsSettlerFunction { Account = account }, cancellationToken);

    /// <summary>Owner: pauses (or resumes) opening leases; top-ups, settlement, refunds and withdrawals go on.</summary>
    public Task<TransactionReceipt> SetPausedAsync(TransactionSender owner, bool paused, CancellationToken cancellationToken = default) =>
        owner.SendAsync(EscrowAddress, new SetPausedFunction { Paused = paused }, cancellationToken);

    internal static SettleBatchFunction ToSettleBatch(IReadOnlyList<SignedVoucher> vouchers) => new() { Entries = EscrowBatch.Encode(vouchers) };

    /// <summary>Sends what draws <paramref name="amount"/> on the tenant's escrow balance, approving only what the balance lacks.</summary>
    private Task<T> PullAndSendAsync<T>(TransactionSender tenant, Credits amount, Func<Task<T>> send, CancellationToken cancellationToken) =>
        GatedAsync(tenant, async () =>
        {
            var balance = await GetTenantBalanceAsync(tenant.Address, cancellationToken);
            if (balance < amount) await Credit.ApproveAsync(tenant, EscrowAddress, amount - balance, cancellationToken);
            return await send();
        }, cancellationToken);

    private Task<T> ApproveAndSendAsync<T>(TransactionSender tenant, Credits amount, Func<Task<T>> send, CancellationToken cancellationToken) =>
        GatedAsync(tenant, async () =>
        {
            await Credit.ApproveAsync(tenant, EscrowAddress, amount, cancellationToken);
            return await send();
        }, cancellationToken);

    private async Task<T> GatedAsync<T>(TransactionSender tenant, Func<Task<T>> send, CancellationToken cancellationToken)
    {
        var gate = _pullGates.GetValue(tenant, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            return await send();
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<Credits> ReadTotalAsync<TFunction>(TFunction function, BlockParameter? block, CancellationToken cancellationToken)
        where TFunction : Nethereum.Contracts.FunctionMessage, new() =>
        CreditsOnChain.FromUnits(await _rpc.QueryAsync<TFunction, BigInteger>(EscrowAddress, function, cancellationToken, block));

    private static bool IsZero(string address) => address.IsAnEmptyAddress() || AddressUtil.Current.IsZeroAddress(address);

    private static EscrowLease ToLease(Guid leaseId, string signer, uint channel, LeaseOutputDTO lease) => new(
        leaseId,
        AddressUtil.Current.ConvertToChecksumAddress(lease.Tenant),
        AddressUtil.Current.ConvertToChecksumAddress(lease.Provider),
        CreditsOnChain.FromUnits(lease.Deposit),
        CreditsOnChain.FromUnits(lease.Paid),
        UnixTime.FromSeconds(lease.Expiry),
        lease.Closed)
    {
        Signer = AddressUtil.Current.ConvertToChecksumAddress(signer),
        Channel = channel,
    };
}

/// <summary>An openLease sent: its transaction, and the channel of the signer the lease took (vouchers name it).</summary>
public sealed record OpenedLease(string TransactionHash, uint Channel);
