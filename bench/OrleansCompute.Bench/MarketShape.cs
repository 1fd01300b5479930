// The market the load runs against: pools of every kind at varied prices, and the tenants that lease from them.
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Leases;
using OrleansCompute.Grains.Market;

namespace OrleansCompute.Bench;

public sealed class MarketShape
{
    private static readonly int[] PoolSizes = [16, 32, 48, 64];
    private static readonly string[] Regions = ["us-east-1", "eu-west-1", "ap-northeast-1"];
    private const int Providers = 16;

    public MarketShape(int minimumSlots, int tenants, int heldPerTenant)
    {
        var pools = new List<PoolDefinition>();
        for (var i = 0; pools.Sum(p => p.SlotCount) < minimumSlots; i++)
        {
            var profile = AcceleratorCatalog.All[i % AcceleratorCatalog.All.Count];
            var provider = i % Providers;
            // 80% to 120% of the list price, so each kind's pools have an order the market must walk.
            var price = Credits.FromCredits(profile.ListPricePerHour.ToDecimal() * (80 + i * 37 % 41) / 100m);
            pools.Add(new PoolDefinition($"provider-{provider:00}", $"pool-{i:000}", profile.Kind, Regions[i % Regions.Length],
                PoolSizes[i % PoolSizes.Length], price, Address(0xaa, provider)));
        }
        Pools = pools;
        Tenants = Enumerable.Range(0, tenants).Select(i => Address(0x7e, i)).ToList();
        HeldPerTenant = heldPerTenant;
        Requests = AcceleratorCatalog.All.Select(p => new LeaseRequest(p.Kind, Slots: 1, Hours: 1)).ToList();
    }

    public IReadOnlyList<PoolDefinition> Pools { get; }
    public int Slots => Pools.Sum(p => p.SlotCount);
    public IReadOnlyList<string> Tenants { get; }

    /// <summary>How many leases a tenant holds before it cancels its oldest to make room: the market never runs dry.</summary>
    public int HeldPerTenant { get; }

    /// <summary>One slot for one hour, one request per kind; a tenant's loop takes the kinds in turn.</summary>
    public IReadOnlyList<LeaseRequest> Requests { get; }

    public async Task DefineAsync(IGrainFactory grains)
    {
        foreach (var pool in Pools) await grains.GetGrain<IPoolGrain>(pool.PoolKey).DefineAsync(pool);
    }

    /// <summary>Slots held in all pools: zero once every loop has cancelled what it held.</summary>
    public async Task<int> HeldSlotsAsync(IGrainFactory grains)
    {
        var snapshots = await Task.WhenAll(Pools.Select(p => grains.GetGrain<IPoolGrain>(p.PoolKey).GetAsync().AsTask()));
        return snapshots.Sum(s => s.Definition!.SlotCount - s.AvailableSlots);
    }

    /// <summary>
    /// A tenant's loop: reserve one slot on each turn (back to back, or on the loop's schedule when paced); once it holds
    /// <see cref="HeldPerTenant"/> leases it cancels the oldest straight away. Only reservations count; cancels are timed
    /// on the side. What it holds at the end is cancelled.
    /// </summary>
    /// <remarks>Requests and cancels take the host's own paths: <see cref="LeaseRouter.RequestAsync"/> and <see cref="LeaseDirectory.EndAsync"/>.</remarks>
    public async Task TenantLoopAsync(LeaseRouter router, LeaseDirectory leases, int tenantIndex, LoopRecorder recorder)
    {
        var tenant = Tenants[tenantIndex];
        var held = new Queue<Guid>();
        var turn = tenantIndex;
        while (!recorder.Stopping)
        {
            try
            {
                var started = await recorder.TurnAsync();
                var lease = await router.RequestAsync(tenant, Requests[turn++ % Requests.Count]);
                recorder.Completed(started);
                held.Enqueue(lease.Id);

                if (held.Count >= HeldPerTenant)
                {
                    var cancelStarted = await recorder.SideTurnAsync();
                    await leases.EndAsync(held.Peek(), tenant);
                    held.Dequeue();
                    recorder.SideCompleted(cancelStarted);
                }
            }
            catch (MarketException refused) when (refused.Error == MarketError.Conflict)
            {
                recorder.Refusal();
            }
            catch (TimeoutException)
            {
                recorder.Error();
            }
        }
        foreach (var leaseId in held) await leases.EndAsync(leaseId, tenant);
    }

    public static string Address(int prefix, int index) => $"0x{prefix:x2}{index:x38}";
}
