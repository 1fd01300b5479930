using Nethereum.RPC.Eth.DTOs;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Deployment;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;
using Xunit;

namespace OrleansCompute.Chain.Tests.Fixtures;

/// <summary>
/// One real Anvil for the whole collection, with both contracts deployed once and every tenant funded.
/// Each dev key has exactly one <see cref="TransactionSender"/>, as in production.
/// </summary>
public sealed class ChainFixture : IAsyncLifetime
{
    public const long ChainId = 31337;
    public const int FeeBps = 100;
    public static readonly TimeSpan ClaimWindow = TimeSpan.FromMinutes(5);
    public static readonly Credits TenantFunding = Credits.FromCredits(1_000_000m);

    public FoundryToolchain Toolchain { get; private set; } = null!;
    public AnvilProcess Anvil { get; private set; } = null!;
    public ChainRpc Rpc { get; private set; } = null!;
    public AnvilCheats Cheats { get; private set; } = null!;
    public DeployedContracts Contracts { get; private set; } = null!;
    public EscrowClient Escrow { get; private set; } = null!;
    public VoucherSigner Vouchers { get; private set; } = null!;
    public TransactionSender Deployer { get; private set; } = null!;
    public TransactionSender Operator { get; private set; } = null!;
    public IReadOnlyList<TransactionSender> Providers { get; private set; } = [];
    public IReadOnlyList<TransactionSender> Tenants { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Toolchain = FoundryToolchain.Locate(AppContext.BaseDirectory);
        await Toolchain.EnsureBuiltAsync();
        Anvil = await AnvilProcess.StartAsync(Toolchain.AnvilPath);
        Rpc = new ChainRpc(Anvil.RpcUrl);
        Cheats = new AnvilCheats(Rpc);

        Deployer = Sender(DevAccounts.Deployer);
        Operator = Sender(DevAccounts.Operator);
        Providers = DevAccounts.Providers.Select(Sender).ToArray();
        Tenants = DevAccounts.Tenants.Select(Sender).ToArray();

        Contracts = await ContractDeployer.DeployAsync(Deployer, Toolchain.OutDirectory, DevAccounts.Deployer.Address,
            new EscrowSettings { FeeBps = FeeBps, ClaimWindow = ClaimWindow, Settlers = [DevAccounts.Operator.Address] });
        Escrow = new EscrowClient(Rpc, Contracts.EscrowAddress, Contracts.CreditAddress);
        Vouchers = new VoucherSigner(ChainId, Contracts.EscrowAddress);
        await Task.WhenAll(Tenants.Select(tenant => Escrow.Credit.MintAsync(Deployer, tenant.Address, TenantFunding)));
    }

    public async Task DisposeAsync()
    {
        foreach (var sender in Tenants.Concat(Providers).Append(Operator).Append(Deployer)) sender?.Dispose();
        if (Anvil is not null) await Anvil.DisposeAsync();
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, uint> _channels = new();

    public TransactionSender Sender(DevAccount account) => new(Rpc, account.PrivateKey, ChainId);

    /// <summary>A fresh key with gas money and no credits, for tests that need a sender nobody else uses.</summary>
    public async Task<string> NewFundedKeyAsync()
    {
        var key = Nethereum.Signer.EthECKey.GenerateKey();
        await Cheats.SetBalanceAsync(key.GetPublicAddress(), System.Numerics.BigInteger.Pow(10, 20));
        return key.GetPrivateKey();
    }

    /// <summary>"Now" as the contracts see it; ahead of the wall clock once a test has moved time.</summary>
    public Task<DateTimeOffset> ChainNowAsync() => Cheats.GetChainTimeAsync();

    public async Task<long> LatestBlockAsync() =>
        (long)(await Rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync())).Value;

    /// <summary>
    /// Opens a fresh lease for tenant <paramref name="tenant"/> (0..4) paying provider <paramref name="provider"/> (0..2), on the
    /// tenant's first free channel; the fixture remembers the channel for the lease's vouchers.
    /// </summary>
    public async Task<Guid> OpenLeaseAsync(int tenant, int provider, Credits deposit, TimeSpan? lifetime = null)
    {
        var leaseId = Guid.CreateVersion7();
        var expiry = (await ChainNowAsync()) + (lifetime ?? TimeSpan.FromHours(1));
        Remember(leaseId, await Escrow.OpenLeaseAsync(Tenants[tenant], leaseId, Providers[provider].Address, deposit, expiry));
        return leaseId;
    }

    /// <summary>Notes the channel an escrow took for <paramref name="leaseId"/>, for <see cref="ChannelOf"/>.</summary>
    public void Remember(Guid leaseId, OpenedLease opened) => _channels[leaseId] = opened.Channel;

    /// <summary>The channel lease <paramref name="leaseId"/> was opened on through this fixture (0 for one it did not open).</summary>
    public uint ChannelOf(Guid leaseId) => _channels.GetValueOrDefault(leaseId);

    public SignedVoucher SignVoucher(int tenant, Guid leaseId, Credits amount, bool isFinal) =>
        Vouchers.Sign(DevAccounts.Tenants[tenant].PrivateKey, leaseId, ChannelOf(leaseId), amount, isFinal);

    /// <summary>Tenant <paramref name="tenant"/>'s vouchers for leases this fixture opened, signed once as one bundle, in order.</summary>
    public IReadOnlyList<SignedVoucher> SignBundle(int tenant, params (Guid LeaseId, Credits Amount, bool IsFinal)[] vouchers) =>
        Vouchers.SignBundle(DevAccounts.Tenants[tenant].PrivateKey,
            vouchers.Select(v => new Abstractions.Leases.VoucherRequest(v.LeaseId, "", v.Amount, v.IsFinal, ChannelOf(v.LeaseId))).ToList());

    /// <summary>Lease <paramref name="leaseId"/> of tenant <paramref name="tenant"/> (0..4), as the escrow stores it.</summary>
    public Task<EscrowLease?> GetLeaseAsync(int tenant, Guid leaseId) => Escrow.GetLeaseAsync(leaseId, Tenants[tenant].Address, ChannelOf(leaseId));

    /// <summary>What tenant <paramref name="tenant"/> (0..4) holds in all: its wallet and its escrow balance, where refunds go.</summary>
    public async Task<Credits> TenantHoldsAsync(int tenant) =>
        await Escrow.Credit.BalanceOfAsync(Tenants[tenant].Address) + await Escrow.GetTenantBalanceAsync(Tenants[tenant].Address);

    /// <summary>The escrow's fee on <paramref name="paid"/> paid to one provider in one run.</summary>
    public static Credits Fee(Credits paid) => Credits.FromUnits(paid.Units * FeeBps / 10_000);

    /// <summary>Conservation: the escrow holds exactly what it owes to open leases, to providers and in fees.</summary>
    public async Task AssertConservedAsync()
    {
        var books = await Escrow.GetBalanceSheetAsync();
        Assert.True(books.Balances, $"escrow holds {books.TokenBalance} but owes {books.TotalHeld} held for tenants + {books.TotalOwed} owed + {books.FeesAccrued} fees at block {books.BlockNumber}");
    }

    public Task<Transaction> GetTransactionAsync(string hash) =>
        Rpc.CallAsync(web3 => web3.Eth.Transactions.GetTransactionByHash.SendRequestAsync(hash));
}

[CollectionDefinition(Name)]
public sealed class ChainCollection : ICollectionFixture<ChainFixture>
{
    public const string Name = "Anvil chain";
}
