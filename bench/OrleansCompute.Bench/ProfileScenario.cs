// Scenario `profile`: what one lease costs on the reserve path, counted rather than guessed: grain calls by method,
// storage operations by state (with bytes written), then the same for the cancel that frees the slot; and the
// unloaded latencies of one lease, one cancel and one ping, and the rate of calls that each activate a fresh grain.
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Leases;
using OrleansCompute.Grains.Market;

namespace OrleansCompute.Bench;

public static class ProfileScenario
{
    private const int UnloadedRequests = 2_000;
    private const int SteadyLeases = 2_000;

    public static async Task<Figures> RunAsync(LoadSettings settings, string dataDirectory)
    {
        var profile = new CallProfile();
        using var host = BenchSilo.Build(MarketStore.Memory, dataDirectory, profile);
        await host.StartAsync();
        var grains = host.Services.GetRequiredService<IGrainFactory>();
        var directory = new LeaseDirectory(grains, host.Services.GetRequiredService<ILeaseBook>());
        var router = ActivatorUtilities.CreateInstance<LeaseRouter>(host.Services);
        var shape = new MarketShape(settings.Slots, settings.Tenants, settings.HeldPerTenant);
        await shape.DefineAsync(grains);
        Progress.Say("profile: counting the grain calls and storage operations of one lease and of its cancel");

        var held = shape.Tenants.Select(_ => new Queue<Guid>()).ToArray();
        async Task EveryTenantAsync(Func<int, Task> step) => await Task.WhenAll(Enumerable.Range(0, shape.Tenants.Count).Select(step));
        async Task ReserveAsync(int tenant)
        {
            var lease = await router.RequestAsync(shape.Tenants[tenant], shape.Requests[(tenant + held[tenant].Count) % shape.Requests.Count]);
            held[tenant].Enqueue(lease.Id);
        }
        Task CancelOldestAsync(int tenant) => directory.EndAsync(held[tenant].Dequeue(), shape.Tenants[tenant]);

        // Warm every grain and code path once, then fill the market to where the load run sits: each tenant holding all but one lease.
        await EveryTenantAsync(async t => { await ReserveAsync(t); await CancelOldestAsync(t); });
        for (var i = 1; i < settings.HeldPerTenant; i++) await EveryTenantAsync(ReserveAsync);

        profile.Start();
        await EveryTenantAsync(ReserveAsync);
        var reserve = profile.Stop();
        profile.Start();
        await EveryTenantAsync(CancelOldestAsync);
        var cancel = profile.Stop();
        for (var i = 1; i < settings.HeldPerTenant; i++) await EveryTenantAsync(CancelOldestAsync);

        var leases = shape.Tenants.Count;
        var figures = new Figures();
        figures.Add("grain_calls_per_lease", reserve.Calls.Sum(c => c.Count) / (double)leases);
        figures.Add("pool_calls_per_lease", Count(reserve.Calls, "IPoolGrain.ReserveAsync") / (double)leases);
        figures.Add("reminder_table_calls_per_lease", reserve.Calls.Where(c => c.Name.StartsWith("IReminderTableGrain", StringComparison.Ordinal)).Sum(c => c.Count) / (double)leases);
        figures.Add("storage_writes_per_lease", Count(reserve.Storage, "write") / (double)leases);
        figures.Add("storage_reads_per_lease", Count(reserve.Storage, "read") / (double)leases);
        figures.Add("storage_bytes_written_per_lease", reserve.Storage.Sum(s => s.Bytes) / (double)leases);
        figures.Add("grain_calls_per_cancel", cancel.Calls.Sum(c => c.Count) / (double)leases);
        figures.Add("storage_writes_per_cancel", Count(cancel.Storage, "write") / (double)leases);

        figures.Markdown.Add(Table($"One lease reserved ({leases} tenants each reserving one more slot at once; the market holding {(settings.HeldPerTenant - 1) * leases} to {settings.HeldPerTenant * leases} leases)", reserve, leases));
        figures.Markdown.Add(Table("The cancel that frees its slot (Reserved → Cancelled)", cancel, leases));

        // One request at a time, each router's view current: the steady state, where a lease should be one pool call.
        var tenant = shape.Tenants[0];
        profile.Start();
        for (var i = 0; i < SteadyLeases; i++)
        {
            var lease = await router.RequestAsync(tenant, shape.Requests[i % shape.Requests.Count]);
            await directory.EndAsync(lease.Id, tenant);
        }
        var steady = profile.Stop();
        figures.Add("pool_calls_per_lease_steady", Count(steady.Calls, "IPoolGrain.ReserveAsync") / (double)SteadyLeases);
        figures.Add("grain_calls_per_lease_and_cancel_steady", steady.Calls.Sum(c => c.Count) / (double)SteadyLeases);
        figures.Markdown.Add(Table($"One lease and its cancel, one at a time ({SteadyLeases} in a row)", steady, SteadyLeases));

        var unloaded = await UnloadedAsync(grains, router, directory, shape);
        figures.Add("unloaded_lease_p50_ms", unloaded.Lease.P50Ms);
        figures.Add("unloaded_cancel_p50_ms", unloaded.Cancel.P50Ms);
        figures.Add("unloaded_ping_p50_ms", unloaded.Ping.P50Ms);

        var fresh = await FreshActivationPingAsync(grains, settings);
        figures.Add("fresh_grain_ping_calls_per_second", fresh.PerSecond);
        figures.Add("cpu_us_per_fresh_grain_ping", fresh.CpuMicrosecondsPerRequest);

        await host.StopAsync();
        return figures;
    }

    private static long Count(IReadOnlyList<CallProfile.Line> lines, string prefix) =>
        lines.Where(l => l.Name.StartsWith(prefix, StringComparison.Ordinal)).Sum(l => l.Count);

    private static string Table(string title, (IReadOnlyList<CallProfile.Line> Calls, IReadOnlyList<CallProfile.Line> Storage) profile, int leases)
    {
        var lines = new List<string>
        {
            $"#### {title}",
            "",
            "Mean ms is the time from the callee starting the call to its answer, so it includes what the call awaits but not its wait in the callee's queue.",
            "",
            "| grain call | per lease | mean ms, inclusive |",
            "| --- | ---: | ---: |",
        };
        // Calls that happened less than once per hundred leases are the silo's own housekeeping, not the lease's.
        lines.AddRange(profile.Calls.Where(c => c.Count * 100 >= leases)
            .Select(c => $"| `{c.Name}` | {c.Count / (double)leases:0.##} | {c.MeanMs:0.###} |"));
        lines.Add($"| **all grain calls** | **{profile.Calls.Sum(c => c.Count) / (double)leases:0.##}** | |");
        lines.Add("");
        lines.Add("| storage operation | per lease | state bytes (Orleans binary) | mean ms |");
        lines.Add("| --- | ---: | ---: | ---: |");
        lines.AddRange(profile.Storage.Select(s => $"| `{s.Name}` | {s.Count / (double)leases:0.##} | {(s.Count == 0 ? 0 : s.Bytes / s.Count):0} | {s.MeanMs:0.###} |"));
        lines.Add("");
        return string.Join('\n', lines);
    }

    /// <summary>One tenant alone, one request at a time: the path's own latency, with no queue in front of it.</summary>
    private static async Task<(Percentiles Lease, Percentiles Cancel, Percentiles Ping)> UnloadedAsync(IGrainFactory grains, LeaseRouter router, LeaseDirectory leases, MarketShape shape)
    {
        var tenant = shape.Tenants[0];
        List<long> lease = new(UnloadedRequests), cancel = new(UnloadedRequests), ping = new(UnloadedRequests);
        for (var i = 0; i < UnloadedRequests; i++)
        {
            var started = Stopwatch.GetTimestamp();
            var reserved = await router.RequestAsync(tenant, shape.Requests[i % shape.Requests.Count]);
            lease.Add(Stopwatch.GetTimestamp() - started);
            started = Stopwatch.GetTimestamp();
            await leases.EndAsync(reserved.Id, tenant);
            cancel.Add(Stopwatch.GetTimestamp() - started);
            var pingGrain = grains.GetGrain<IPingGrain>(i % 10);
            started = Stopwatch.GetTimestamp();
            await pingGrain.PingAsync();
            ping.Add(Stopwatch.GetTimestamp() - started);
        }
        return (Percentiles.Of([lease]), Percentiles.Of([cancel]), Percentiles.Of([ping]));
    }

    /// <summary>Every lease is a new grain; this is what a call costs when it, too, has to activate its grain first.</summary>
    private static Task<RunResult> FreshActivationPingAsync(IGrainFactory grains, LoadSettings settings)
    {
        var next = 1_000_000L;
        return LoadLoops.RunAsync(settings.Tenants, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(Math.Min(5, settings.Duration.TotalSeconds)),
            async (_, recorder) =>
            {
                while (!recorder.Stopping)
                {
                    var ping = grains.GetGrain<IPingGrain>(Interlocked.Increment(ref next));
                    var started = await recorder.TurnAsync();
                    await ping.PingAsync();
                    recorder.Completed(started);
                }
            });
    }
}
