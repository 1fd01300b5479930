// Scenario `market`: leases reserved per second and their latency, beside raw grain calls to a ping grain,
// interleaved in one silo (ping, lease; lease, ping; ...) so both see the same machine. Then the same tenants paced
// at the store's target rate: the latency a tenant sees when the market runs at that rate rather than flat out.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Leases;
using OrleansCompute.Grains.Market;

namespace OrleansCompute.Bench;

public sealed record LoadSettings(
    int Tenants, int Slots, int HeldPerTenant, TimeSpan Warmup, TimeSpan Duration, int Repetitions, double PacedRateMemory, double PacedRateSqlite);

public static class MarketScenario
{
    /// <summary>Each ping loop cycles over its own grains; all loops together reach this many ping grains.</summary>
    private const int PingGrainsPerLoop = 10;

    public static async Task<Figures> RunAsync(MarketStore store, LoadSettings settings, string dataDirectory)
    {
        var suffix = store == MarketStore.Memory ? "memory" : "sqlite";
        using var host = BenchSilo.Build(store, dataDirectory);
        await host.StartAsync();
        var grains = host.Services.GetRequiredService<IGrainFactory>();
        var leases = new LeaseDirectory(grains, host.Services.GetRequiredService<ILeaseBook>());
        var router = ActivatorUtilities.CreateInstance<LeaseRouter>(host.Services);
        var shape = new MarketShape(settings.Slots, settings.Tenants, settings.HeldPerTenant);
        await shape.DefineAsync(grains);
        Progress.Say($"market/{suffix}: {shape.Pools.Count} pools, {shape.Slots} slots, {settings.Tenants} tenants holding up to {settings.HeldPerTenant} leases each");

        var leaseRuns = new List<RunResult>();
        var pingRuns = new List<RunResult>();
        for (var repetition = 0; repetition < settings.Repetitions; repetition++)
        {
            // Alternate the order so neither figure always runs on the warmer (or more crowded) half of a repetition.
            if (repetition % 2 == 0)
            {
                pingRuns.Add(await PingAsync(grains, settings));
                leaseRuns.Add(await LeasesAsync(router, leases, shape, settings));
            }
            else
            {
                leaseRuns.Add(await LeasesAsync(router, leases, shape, settings));
                pingRuns.Add(await PingAsync(grains, settings));
            }
            Progress.Say($"market/{suffix} repetition {repetition + 1}: {leaseRuns[^1].PerSecond:N0} leases/s (p99 {leaseRuns[^1].Main.P99Ms:F1} ms), " +
                         $"{pingRuns[^1].PerSecond:N0} pings/s (p99 {pingRuns[^1].Main.P99Ms:F1} ms)");
        }

        var pacedRate = store == MarketStore.Memory ? settings.PacedRateMemory : settings.PacedRateSqlite;
        var pacedRuns = new List<RunResult>();
        for (var repetition = 0; repetition < settings.Repetitions; repetition++)
        {
            pacedRuns.Add(await LeasesAsync(router, leases, shape, settings, pacedRate));
            Progress.Say($"market/{suffix} paced at {pacedRate:N0} leases/s, repetition {repetition + 1}: {pacedRuns[^1].PerSecond:N0} leases/s, " +
                         $"p50 {pacedRuns[^1].Main.P50Ms:F1} ms, p99 {pacedRuns[^1].Main.P99Ms:F1} ms");
        }

        var heldAfter = await shape.HeldSlotsAsync(grains);
        await host.StopAsync();

        var lease = LoadLoops.Median(leaseRuns);
        var ping = LoadLoops.Median(pingRuns);
        var paced = pacedRuns.OrderBy(r => r.Main.P99Ms).ElementAt(pacedRuns.Count / 2);
        var figures = new Figures();
        figures.Add($"leases_per_second_{suffix}", lease.PerSecond);
        figures.Add($"leases_per_second_{suffix}_min", leaseRuns.Min(r => r.PerSecond));
        figures.Add($"leases_per_second_{suffix}_max", leaseRuns.Max(r => r.PerSecond));
        // The latency figures the issue names are those at its throughput target (paced); flat out, they only restate
        // Little's law (1,000 tenants ÷ the rate), and are kept beside them as *_saturated.
        figures.Add($"p50_ms_{suffix}", paced.Main.P50Ms);
        figures.Add($"p99_ms_{suffix}", paced.Main.P99Ms);
        figures.Add($"max_ms_{suffix}", paced.Main.MaxMs);
        figures.Add($"p99_ms_{suffix}_min", pacedRuns.Min(r => r.Main.P99Ms));
        figures.Add($"p99_ms_{suffix}_max", pacedRuns.Max(r => r.Main.P99Ms));
        figures.Add($"paced_rate_{suffix}", pacedRate);
        figures.Add($"paced_leases_per_second_{suffix}", paced.PerSecond);
        figures.Add($"paced_cancel_p99_ms_{suffix}", paced.Side.P99Ms);
        figures.Add($"paced_cpu_us_per_lease_{suffix}", paced.CpuMicrosecondsPerRequest);
        figures.Add($"paced_refused_leases_{suffix}", paced.Refused);
        figures.Add($"paced_timed_out_requests_{suffix}", paced.Errors);
        figures.Add($"p50_ms_{suffix}_saturated", lease.Main.P50Ms);
        figures.Add($"p99_ms_{suffix}_saturated", lease.Main.P99Ms);
        figures.Add($"max_ms_{suffix}_saturated", lease.Main.MaxMs);
        figures.Add($"cancels_per_second_{suffix}", lease.Side.Count / lease.Seconds);
        figures.Add($"cancel_p99_ms_{suffix}", lease.Side.P99Ms);
        figures.Add($"tenants_without_a_lease_{suffix}", lease.IdleLoops);
        figures.Add($"refused_leases_{suffix}", lease.Refused);
        figures.Add($"timed_out_requests_{suffix}", lease.Errors);
        figures.Add($"cpu_us_per_lease_{suffix}", lease.CpuMicrosecondsPerRequest);
        figures.Add($"allocated_bytes_per_lease_{suffix}", lease.AllocatedBytesPerRequest);
        figures.Add($"gc_pause_ms_per_second_{suffix}", lease.GcPauseMs / lease.Seconds);
        figures.Add($"held_slots_after_runs_{suffix}", heldAfter);

        var pingSuffix = store == MarketStore.Memory ? "" : "_sqlite_run";
        figures.Add($"ping_calls_per_second{pingSuffix}", ping.PerSecond);
        figures.Add($"ping_calls_per_second{pingSuffix}_min", pingRuns.Min(r => r.PerSecond));
        figures.Add($"ping_calls_per_second{pingSuffix}_max", pingRuns.Max(r => r.PerSecond));
        figures.Add($"ping_p50_ms{pingSuffix}", ping.Main.P50Ms);
        figures.Add($"ping_p99_ms{pingSuffix}", ping.Main.P99Ms);
        figures.Add($"cpu_us_per_ping{pingSuffix}", ping.CpuMicrosecondsPerRequest);
        figures.Add($"allocated_bytes_per_ping{pingSuffix}", ping.AllocatedBytesPerRequest);
        figures.Add(store == MarketStore.Memory ? "lease_to_ping_ratio" : "lease_to_ping_ratio_sqlite", lease.PerSecond / ping.PerSecond);

        figures.Add("slots", shape.Slots);
        figures.Add("pools", shape.Pools.Count);
        figures.Add("concurrent_tenants", settings.Tenants);
        figures.Add("leases_held_per_tenant", settings.HeldPerTenant);
        figures.Add("warmup_s", settings.Warmup.TotalSeconds);
        figures.Add("duration_s", settings.Duration.TotalSeconds);
        figures.Add("repetitions", settings.Repetitions);
        return figures;
    }

    /// <summary>The tenants' loops, flat out (closed) or together at <paramref name="pacedRate"/> leases a second.</summary>
    private static Task<RunResult> LeasesAsync(LeaseRouter router, LeaseDirectory leases, MarketShape shape, LoadSettings settings, double pacedRate = 0) =>
        LoadLoops.RunAsync(settings.Tenants, settings.Warmup, settings.Duration,
            (tenant, recorder) => shape.TenantLoopAsync(router, leases, tenant, recorder), pacedRate);

    public static Task<RunResult> PingAsync(IGrainFactory grains, LoadSettings settings) =>
        LoadLoops.RunAsync(settings.Tenants, settings.Warmup, settings.Duration, async (loop, recorder) =>
        {
            var turn = 0;
            while (!recorder.Stopping)
            {
                var ping = grains.GetGrain<IPingGrain>(loop + (long)(turn++ % PingGrainsPerLoop) * settings.Tenants);
                var started = await recorder.TurnAsync();
                await ping.PingAsync();
                recorder.Completed(started);
            }
        });
}
