// Scenario `memory`: what one slot of the market costs the silo. Defines the pools that hold N slots (4,000 each: their
// definitions, calendars and state, kept in the silo's store) and activates every slot grain (each asks its pool for its
// calendar and keeps its pool's reference), forces a full compacting GC, and divides the growth of the process by N. The
// same for N ping grains, as the baseline.
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Bench;

public enum MemoryGrain { Slot, Ping }

public static class MemoryScenario
{
    private const int SlotsPerPool = 4_000;
    private const int WarmupGrains = 10_000;
    private const int Concurrency = 1_000;

    public static async Task<Figures> RunAsync(MemoryGrain kind, int count, string dataDirectory)
    {
        using var host = BenchSilo.Build(MarketStore.Memory, dataDirectory);
        await host.StartAsync();
        var grains = host.Services.GetRequiredService<IGrainFactory>();
        Func<int, Task> touch = kind == MemoryGrain.Slot
            ? index => grains.GetGrain<ISlotGrain>(SlotKey(index)).GetAsync().AsTask()
            : index => grains.GetGrain<IPingGrain>(index).PingAsync();

        // Grains past the measured range warm the activation path (JIT, directory, pools); they stay in the baseline.
        var warmupPools = PoolsFor(count, count + WarmupGrains);
        if (kind == MemoryGrain.Slot) await DefinePoolsAsync(grains, warmupPools);
        await TouchAsync(count, count + WarmupGrains, touch);
        var before = Settle();
        var started = Stopwatch.GetTimestamp();
        // A slot exists only in its pool: the pools of the measured slots are part of what they cost.
        if (kind == MemoryGrain.Slot) await DefinePoolsAsync(grains, PoolsFor(0, count).Except(warmupPools));
        await TouchAsync(0, count, touch);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var after = Settle();
        var active = await grains.GetGrain<IManagementGrain>(0).GetTotalActivationCount();
        await host.StopAsync();

        var name = kind == MemoryGrain.Slot ? "slot" : "ping_grain";
        var figures = new Figures();
        figures.Add($"bytes_per_{name}", (after.WorkingSet - before.WorkingSet) / (double)count);
        figures.Add($"managed_bytes_per_{name}", (after.Managed - before.Managed) / (double)count);
        figures.Add($"{name}_activations_per_second", count / seconds);
        figures.Add($"{name}s_activated", count);
        figures.Add($"active_grains_after_{name}s", active);
        Progress.Say($"memory/{name}: {count:N0} activated in {seconds:F1} s; working set +{(after.WorkingSet - before.WorkingSet) / 1048576.0:N0} MiB, " +
                     $"managed heap +{(after.Managed - before.Managed) / 1048576.0:N0} MiB; {active:N0} activations in the silo");
        return figures;
    }

    /// <summary>A slot key as the market builds it: 4,000 slots per pool, pools spread over 16 providers.</summary>
    private static string SlotKey(int index) => MarketKeys.Slot(Pool(index / SlotsPerPool).PoolKey, index % SlotsPerPool);

    /// <summary>Pool <paramref name="pool"/> of the memory market: H100s at list price, paid to its provider's address.</summary>
    private static PoolDefinition Pool(int pool)
    {
        var provider = pool % 16;
        return new PoolDefinition($"provider-{provider:00}", $"pool-{pool:0000}", "h100", "us-east-1", SlotsPerPool,
            Credits.FromCredits(2.99m), MarketShape.Address(0xaa, provider));
    }

    /// <summary>The pools that hold slots <paramref name="from"/> to <paramref name="to"/> (exclusive).</summary>
    private static List<int> PoolsFor(int from, int to) =>
        [.. Enumerable.Range(from / SlotsPerPool, (to - 1) / SlotsPerPool - from / SlotsPerPool + 1)];

    private static async Task DefinePoolsAsync(IGrainFactory grains, IEnumerable<int> pools)
    {
        foreach (var pool in pools) await grains.GetGrain<IPoolGrain>(Pool(pool).PoolKey).DefineAsync(Pool(pool));
    }

    private static async Task TouchAsync(int from, int to, Func<int, Task> touch)
    {
        var next = from - 1;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            for (var index = Interlocked.Increment(ref next); index < to; index = Interlocked.Increment(ref next)) await touch(index);
        })));
    }

    /// <summary>Full blocking, compacting collections that also return free memory to the OS, then what the process holds.</summary>
    private static (long Managed, long WorkingSet) Settle()
    {
        for (var i = 0; i < 2; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        using var process = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(forceFullCollection: false), process.WorkingSet64);
    }
}
