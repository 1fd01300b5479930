// The chain side of the settlement bench: a real Anvil with the contracts deployed, funded tenants that open leases
// (the unmeasured setup), the operator's sender, and the raw-transfer baseline sent through the same TransactionSender.
using System.Diagnostics;
using System.Numerics;
using Nethereum.Signer;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain;
using OrleansCompute.Chain.Contracts.ComputeCredit;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Deployment;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Bench;

/// <summary>A lease opened on chain in the setup, with the tenant's final voucher for it.</summary>
public sealed record BenchLease(Guid Id, string Provider, SignedVoucher FinalVoucher);

/// <summary>What a burst of transactions achieved: how many, over how long, and each one's send-to-receipt latency.</summary>
public sealed record TransferRun(int Count, double Seconds, Percentiles Latency)
{
    public double PerSecond => Count / Seconds;
}

public sealed class SettlementChain : IAsyncDisposable
{
    public const long ChainId = 31337;

    /// <summary>What each lease escrows; its final voucher pays a part of it and the rest is refunded.</summary>
    private static readonly Credits Deposit = Credits.FromCredits(10m);

    /// <summary>Transactions one sender keeps in flight: enough to keep Anvil busy while receipts are polled.</summary>
    private const int InFlightPerSender = 64;

    /// <summary>Above what an openLease of an already registered provider takes (about 75,000 gas).</summary>
    private const int OpenLeaseGasLimit = 110_000;

    /// <summary>Above what a plain ERC-20 transfer between two holders takes (about 34,500 gas).</summary>
    private const int TransferGasLimit = 60_000;

    /// <summary>openLease transactions per block in the setup: their gas limits fill most of a 30M block.</summary>
    private const int OpensPerBlock = 250;

    private readonly AnvilProcess _anvil;
    private readonly AnvilCheats _cheats;
    private readonly TransactionSender _deployer;
    private readonly List<TransactionSender> _senders = [];
    private readonly (string Key, TransactionSender Sender)[] _tenants;
    // Each tenant's next fresh escrow channel: every lease of the bench takes a channel never used, across runs.
    private readonly uint[] _nextChannel;
    private readonly TransactionSender[] _transferSenders;

    private SettlementChain(AnvilProcess anvil, ChainRpc rpc, DeployedContracts contracts, TransactionSender deployer,
        (string, TransactionSender)[] tenants, TransactionSender[] transferSenders, TransactionSender @operator)
    {
        _anvil = anvil;
        _cheats = new AnvilCheats(rpc);
        _deployer = deployer;
        Rpc = rpc;
        Contracts = contracts;
        Escrow = new EscrowClient(rpc, contracts.EscrowAddress, contracts.CreditAddress);
        Vouchers = new VoucherSigner(ChainId, contracts.EscrowAddress);
        _tenants = tenants;
        _nextChannel = new uint[tenants.Length];
        _transferSenders = transferSenders;
        Operator = @operator;
        _senders.Add(deployer);
        _senders.AddRange(tenants.Select(t => t.Item2));
        _senders.AddRange(transferSenders);
        _senders.Add(@operator);
    }

    public ChainRpc Rpc { get; }
    public DeployedContracts Contracts { get; }
    public EscrowClient Escrow { get; }
    public VoucherSigner Vouchers { get; }

    /// <summary>The operator's key, which pays for settlement: one owner, as in the host.</summary>
    public TransactionSender Operator { get; }

    public int TransferSenders => _transferSenders.Length;

    /// <summary>Starts Anvil, deploys, and funds <paramref name="tenants"/> fresh tenant keys for <paramref name="leasesPerTenant"/> leases each.</summary>
    public static async Task<SettlementChain> StartAsync(int tenants, int leasesPerTenant, int transferSenders, IReadOnlyList<string> anvilArguments)
    {
        var toolchain = FoundryToolchain.Locate();
        await toolchain.EnsureBuiltAsync();
        var anvil = await AnvilProcess.StartAsync(toolchain.AnvilPath, new AnvilOptions { ExtraArguments = anvilArguments });
        var rpc = new ChainRpc(anvil.RpcUrl);
        var cheats = new AnvilCheats(rpc);
        var deployer = new TransactionSender(rpc, DevAccounts.Deployer.PrivateKey, ChainId);
        var contracts = await ContractDeployer.DeployAsync(deployer, toolchain.OutDirectory, deployer.Address,
            new EscrowSettings { Settlers = [DevAccounts.Operator.Address] });
        var credit = new ComputeCreditClient(rpc, contracts.CreditAddress);

        async Task<(string Key, TransactionSender Sender)> FundedAsync(Credits credits)
        {
            var key = EthECKey.GenerateKey().GetPrivateKey();
            var sender = new TransactionSender(rpc, key, ChainId);
            await cheats.SetBalanceAsync(sender.Address, BigInteger.Pow(10, 24));
            await credit.MintAsync(deployer, sender.Address, credits);
            return (key, sender);
        }

        var tenantKeys = new List<(string, TransactionSender)>();
        for (var i = 0; i < tenants; i++)
        {
            var tenant = await FundedAsync(Credits.FromUnits(Deposit.Units * leasesPerTenant));
            await credit.ApproveAsync(tenant.Sender, contracts.EscrowAddress, Credits.FromUnits(Deposit.Units * leasesPerTenant));
            tenantKeys.Add(tenant);
        }
        var transferKeys = new List<TransactionSender>();
        for (var i = 0; i < transferSenders; i++) transferKeys.Add((await FundedAsync(Credits.FromCredits(1_000_000m))).Sender);
        return new SettlementChain(anvil, rpc, contracts, deployer, tenantKeys.ToArray(), transferKeys.ToArray(),
            new TransactionSender(rpc, DevAccounts.Operator.PrivateKey, ChainId));
    }

    /// <summary>Mints <paramref name="credits"/> to <paramref name="address"/> (the deployer owns the credit): a wallet the bench did not make, funded.</summary>
    public Task MintAsync(string address, Credits credits) => new ComputeCreditClient(Rpc, Contracts.CreditAddress).MintAsync(_deployer, address, credits);

    public async Task<long> LatestBlockAsync() =>
        (long)(await Rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync())).Value;

    /// <summary>
    /// The unmeasured setup: <paramref name="count"/> leases opened by the tenants in turn, spread over
    /// <paramref name="providers"/> in turn, each tenant pipelining its openLease transactions on fresh channels of its own;
    /// then every tenant signs
    /// the final voucher of each of its leases for a random part of the deposit.
    /// </summary>
    public async Task<IReadOnlyList<BenchLease>> OpenLeasesAsync(int count, IReadOnlyList<string> providers)
    {
        var expiry = new BigInteger(DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeSeconds());
        var random = new Random(count);
        var plan = Enumerable.Range(0, count)
            .Select(i => (Id: Guid.NewGuid(), Tenant: i % _tenants.Length, Channel: _nextChannel[i % _tenants.Length]++,
                Provider: providers[i % providers.Count], Amount: Credits.FromUnits(random.NextInt64(1, Deposit.Units + 1))))
            .ToArray();

        OpenLeaseFunction Open((Guid Id, int Tenant, uint Channel, string Provider, Credits Amount) lease) => new()
        {
            LeaseId = OrleansCompute.Abstractions.Leases.LeaseIds.ToChainId(lease.Id),
            Channel = lease.Channel,
            Provider = lease.Provider,
            Amount = CreditsOnChain.ToUnits(Deposit),
            Expiry = expiry,
        };

        // The first lease of each provider registers it, which costs more: those go one by one with an estimate. The rest
        // go many to a block with automine off (a block per transaction would make the setup, and Anvil, slow), each
        // with a gas limit above what an openLease takes, so a block holds a chunk.
        var firsts = plan.DistinctBy(p => p.Provider).ToHashSet();
        foreach (var lease in firsts) await _tenants[lease.Tenant].Sender.SendAsync(Escrow.EscrowAddress, Open(lease));
        await _cheats.SetAutomineAsync(false);
        try
        {
            foreach (var chunk in plan.Where(p => !firsts.Contains(p)).Chunk(OpensPerBlock))
            {
                var submitted = await Task.WhenAll(chunk.Select(async lease =>
                {
                    var sender = _tenants[lease.Tenant].Sender;
                    var open = Open(lease);
                    open.Gas = OpenLeaseGasLimit;
                    return (sender, await sender.SubmitAsync(Escrow.EscrowAddress, open));
                }));
                await _cheats.MineAsync();
                await Task.WhenAll(submitted.Select(s => s.sender.WaitForSuccessAsync(s.Item2)));
            }
        }
        finally
        {
            await _cheats.SetAutomineAsync(true);
        }

        var leases = new BenchLease[plan.Length];
        Parallel.For(0, plan.Length, i =>
        {
            var lease = plan[i];
            leases[i] = new BenchLease(lease.Id, lease.Provider, Vouchers.Sign(_tenants[lease.Tenant].Key, lease.Id, lease.Channel, lease.Amount, isFinal: true));
        });
        return leases;
    }

    /// <summary>
    /// The baseline: <paramref name="count"/> plain ERC-20 transfers of the credit, spread over the transfer senders, each
    /// keeping <see cref="InFlightPerSender"/> in flight, timed from the first send to the last receipt.
    /// </summary>
    public async Task<TransferRun> TransfersAsync(int count)
    {
        var latencies = new List<long>[_transferSenders.Length];
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(_transferSenders.Select(async (sender, s) =>
        {
            var mine = latencies[s] = new List<long>(count / _transferSenders.Length + 1);
            using var window = new SemaphoreSlim(InFlightPerSender);
            var share = count / _transferSenders.Length + (s < count % _transferSenders.Length ? 1 : 0);
            await Task.WhenAll(Enumerable.Range(0, share).Select(async i =>
            {
                await window.WaitAsync();
                try
                {
                    var sent = Stopwatch.GetTimestamp();
                    // A known gas limit, as settlement batches have: no estimate, so both go the same fast path.
                    await sender.SendAsync(Contracts.CreditAddress, new TransferFunction { To = RecipientOf(s), Value = BigInteger.One, Gas = TransferGasLimit });
                    var latency = Stopwatch.GetTimestamp() - sent;
                    lock (mine) mine.Add(latency);
                }
                finally
                {
                    window.Release();
                }
            }));
        }));
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return new TransferRun(count, seconds, Percentiles.Of(latencies));
    }

    /// <summary>Gas used by the given transactions, read from their receipts.</summary>
    public async Task<BigInteger> GasUsedAsync(IEnumerable<string> transactionHashes)
    {
        var total = BigInteger.Zero;
        foreach (var hash in transactionHashes)
            total += (await Operator.WaitForReceiptAsync(hash)).GasUsed.Value;
        return total;
    }

    /// <summary>The next transfer sender: an account that already holds credits, so each transfer costs what a plain one does.</summary>
    private string RecipientOf(int sender) => _transferSenders[(sender + 1) % _transferSenders.Length].Address;

    public async ValueTask DisposeAsync()
    {
        foreach (var sender in _senders) sender.Dispose();
        await _anvil.DisposeAsync();
    }
}
