// What a test does to the market, in the market's own words: define pools, request, fund, end, look inside.
using System.Security.Cryptography;
using Nethereum.Signer;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Grains.Tests.Infrastructure;

/// <summary>A tenant's wallet: the address the host would have verified, and the key that signs its vouchers.</summary>
public sealed record Tenant(EthECKey Key)
{
    /// <summary>Checksummed, as a wallet gives it; the grains keep addresses lowercase.</summary>
    public string Address { get; } = Key.GetPublicAddress();

    public static Tenant New() => new(EthECKey.GenerateKey());

    public SignedVoucher Sign(Guid leaseId, Credits amount, bool isFinal = true) => TestVouchers.Sign(Key, leaseId, amount, isFinal);

    /// <summary>Final vouchers for what each lease owes, signed once as one bundle.</summary>
    public IReadOnlyList<SignedVoucher> SignBundle(params LeaseSnapshot[] ended) =>
        TestVouchers.SignBundle(Key, [.. ended.Select(l => (l.Id, l.AmountOwed, true))]);
}

public sealed class TestMarket(IGrainFactory grains)
{
    public IGrainFactory Grains { get; } = grains;

    /// <summary>A region no other test uses, so that each test's pools are the only ones its requests can match.</summary>
    public static string NewRegion() => "r-" + Guid.NewGuid().ToString("N")[..12];

    public static string NewAddress() => "0x" + Convert.ToHexString(RandomNumberGenerator.GetBytes(20));

    public static string NewTransactionHash() => "0x" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public async Task<PoolDefinition> DefinePoolAsync(string region, int slots = 4, decimal pricePerSlotHour = 2.40m, string kind = "h100")
    {
        var pool = new PoolDefinition("p-" + Guid.NewGuid().ToString("N")[..12], "pool", kind, region, slots,
            Credits.FromCredits(pricePerSlotHour), NewAddress());
        await Pool(pool).DefineAsync(pool);
        return pool;
    }

    public IPoolGrain Pool(PoolDefinition pool) => Grains.GetGrain<IPoolGrain>(pool.PoolKey);

    public ILeaseGrain Lease(Guid leaseId) => Grains.GetGrain<ILeaseGrain>(leaseId);

    public ISlotGrain Slot(string slotKey) => Grains.GetGrain<ISlotGrain>(slotKey);

    public ISettlementGrain Settlement(PoolDefinition pool) => Grains.GetGrain<ISettlementGrain>(pool.PayoutAddress.ToLowerInvariant());

    public Task<LeaseSnapshot> RequestAsync(Tenant tenant, LeaseRequest request) => Grains.RequestLeaseAsync(tenant.Address, request);

    public static LeaseRequest Request(PoolDefinition pool, int slots = 1, int hours = 1) => new(pool.Kind, slots, hours, pool.Region);

    /// <summary>The escrow the chain watcher would report for a tenant who funded exactly what the lease asked.</summary>
    public static EscrowFunded MatchingEscrow(LeaseSnapshot lease, Tenant tenant) =>
        new(tenant.Address, lease.ProviderAddress!, lease.Deposit, lease.EscrowExpiry!.Value, NewTransactionHash(), 100);

    public async Task<LeaseSnapshot> FundAsync(LeaseSnapshot lease, Tenant tenant) =>
        (await Lease(lease.Id).ConfirmFundingAsync(MatchingEscrow(lease, tenant)))!;

    /// <summary>Requests and funds a lease: it is Active when this returns.</summary>
    public async Task<LeaseSnapshot> ActiveLeaseAsync(Tenant tenant, LeaseRequest request)
    {
        var lease = await FundAsync(await RequestAsync(tenant, request), tenant);
        Assert.Equal(LeaseStatus.Active, lease.Status);
        return lease;
    }

    /// <summary>An Active lease that its tenant has ended: it owes the minimum and waits for the final voucher.</summary>
    public async Task<LeaseSnapshot> EndedLeaseAsync(Tenant tenant, LeaseRequest request)
    {
        var lease = await ActiveLeaseAsync(tenant, request);
        lease = await Lease(lease.Id).EndAsync(tenant.Address);
        Assert.Equal(LeaseStatus.Ended, lease.Status);
        return lease;
    }

    public async Task<LeaseSnapshot> GetLeaseAsync(Guid leaseId) =>
        await Lease(leaseId).GetAsync() ?? throw new InvalidOperationException($"No lease {leaseId}.");

    public async Task<IReadOnlyList<SlotSnapshot>> SlotsAsync(PoolDefinition pool) =>
        await Task.WhenAll(Enumerable.Range(0, pool.SlotCount)
            .Select(i => Slot(MarketKeys.Slot(pool.PoolKey, i)).GetAsync().AsTask()));

    /// <summary>
    /// The pool and its slots read at one moment: a lease's timer may release slots while they are read,
    /// so the pool is read before and after the slots and the reading is repeated until nothing moved.
    /// </summary>
    public async Task<(PoolSnapshot Pool, IReadOnlyList<SlotSnapshot> Slots)> ReadPoolAsync(PoolDefinition pool)
    {
        for (var attempt = 0; ; attempt++)
        {
            var before = await Pool(pool).GetAsync();
            var slots = await SlotsAsync(pool);
            var after = await Pool(pool).GetAsync();
            if (SameHolders(before, after) || attempt == 20) return (after, slots);
        }
    }

    /// <summary>The pool's record of who holds each slot is exactly what each slot grain shows of itself.</summary>
    public async Task AssertPoolAgreesWithSlotsAsync(PoolDefinition pool)
    {
        var (snapshot, slots) = await ReadPoolAsync(pool);
        AssertAgree(pool, snapshot, slots);
    }

    public static void AssertAgree(PoolDefinition pool, PoolSnapshot snapshot, IReadOnlyList<SlotSnapshot> slots)
    {
        Assert.Equal(pool.SlotCount - snapshot.Holders.Count, snapshot.AvailableSlots);
        for (var index = 0; index < pool.SlotCount; index++)
        {
            var slot = slots[index];
            if (snapshot.Holders.TryGetValue(index, out var holder))
            {
                Assert.True(slot.LeaseId == holder, $"Pool says slot {index} is held by {holder}; the slot says {slot.LeaseId}.");
                Assert.NotEqual(SlotStatus.Available, slot.Status);
            }
            else
            {
                Assert.True(slot.Status == SlotStatus.Available && slot.LeaseId is null,
                    $"Pool says slot {index} is free; the slot says {slot.Status} by {slot.LeaseId}.");
            }
        }
    }

    private static bool SameHolders(PoolSnapshot a, PoolSnapshot b) =>
        a.Holders.Count == b.Holders.Count && a.Holders.All(h => b.Holders.TryGetValue(h.Key, out var other) && other == h.Value);
}

public static class Eventually
{
    /// <summary>Polls <paramref name="read"/> until <paramref name="done"/> holds; fails with the last value seen after <paramref name="timeout"/>.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var value = await read();
            if (done(value)) return value;
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out waiting for {what ?? "the condition"}; last seen: {value}");
            await Task.Delay(50);
        }
    }
}
