// Scenario `gateway` (issue 6): the latency the OpenAI-compatible gateway adds to a non-streaming chat completion, and the
// requests/s it serves, against the same simulated accelerator served directly by a bare Kestrel endpoint in the same
// process and run. Both answer at once (Gateway:SimulatedPacing=false): what is left is HTTP, the body, the key check,
// admission and metering on the lease grain.
using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Bench;

public sealed record GatewaySettings(
    int Leases,
    int SlotsPerLease,
    int LatencyRequests,
    int LatencyWarmupRequests,
    int Concurrency,
    TimeSpan JitWarmup,
    TimeSpan Warmup,
    TimeSpan Duration,
    int Repetitions,
    MarketStore Store);

public static class GatewayScenario
{
    /// <summary>The leased kind: the devnet's largest pool (16 Trainium2 slots).</summary>
    public const string Kind = "trainium2";

    /// <summary>Requests per side in one latency round; rounds alternate which side goes first.</summary>
    private const int LatencyRound = 100;

    /// <summary>
    /// Far more than the run meters (about 100 tokens a request, a few million requests at most, at a third of a credit
    /// per 1M tokens), so neither escrow_low nor a voucher request (none is set) ever answers 402.
    /// </summary>
    private const int LeaseHours = 24;
    private static readonly Credits TenantCredits = Credits.FromCredits(1_000_000m);

    /// <summary>An ordinary chat request: a system prompt, a question, a bound on the answer; the same bytes to both sides.</summary>
    public static readonly byte[] RequestBody = JsonSerializer.SerializeToUtf8Bytes(new
    {
        model = OrleansCompute.Host.Gateway.SimulatedAccelerator.Model,
        messages = new[]
        {
            new { role = "system", content = "You are a concise assistant for an AI accelerator marketplace." },
            new { role = "user", content = "Compare the cost per million tokens of a Trainium2 slot and an H100 slot." },
        },
        max_tokens = 64,
    });

    public static async Task<Figures> RunAsync(GatewaySettings settings, string dataDirectory)
    {
        await using var market = await GatewayMarket.StartAsync(dataDirectory, TenantCredits, settings.Store);
        var leases = await market.LeaseAsync(settings.Leases, settings.SlotsPerLease, Kind, LeaseHours);
        var perLease = leases[0].Slots * new OrleansCompute.Grains.MarketOptions().InferenceConcurrencyPerSlot;
        if ((settings.Concurrency + leases.Count - 1) / leases.Count > perLease)
            throw new ArgumentException($"{settings.Concurrency} loops over {leases.Count} leases of {perLease} requests at once each would be refused with 429.");
        await using var direct = await DirectAccelerator.StartAsync(Kind);
        Progress.Say($"gateway: host at {market.ApiUrl} with {leases.Count} active {Kind} leases of {settings.SlotsPerLease} slots (token-billed); " +
                     $"the bare accelerator at {direct.Url}");

        var gateway = new LoadTarget("gateway", new Uri($"{market.ApiUrl}/v1/chat/completions"), leases.Select(l => (string?)l.ApiKey).ToList());
        var bare = new LoadTarget("direct", new Uri($"{direct.Url}/v1/chat/completions"), [null]);
        using var load = new HttpLoad(RequestBody);
        await RequireSameAnswerAsync(load, gateway, bare);

        var warmup = await WarmUpAsync(load, gateway, bare, settings);
        Progress.Say($"gateway: warmed up in {warmup.TotalSeconds:F0} s");
        var compiledBefore = System.Runtime.JitInfo.GetCompiledMethodCount();

        // Latency, unloaded: one request at a time, the sides alternating in rounds so that the machine's noise hits both.
        var warm = new List<long>();
        await load.SequentialAsync(gateway, settings.LatencyWarmupRequests, warm);
        await load.SequentialAsync(bare, settings.LatencyWarmupRequests, warm);
        var gatewayLatencies = new List<long>(settings.LatencyRequests);
        var directLatencies = new List<long>(settings.LatencyRequests);
        for (var round = 0; gatewayLatencies.Count < settings.LatencyRequests; round++)
        {
            var count = Math.Min(LatencyRound, settings.LatencyRequests - gatewayLatencies.Count);
            (LoadTarget, List<long>)[] order = round % 2 == 0 ? [(gateway, gatewayLatencies), (bare, directLatencies)] : [(bare, directLatencies), (gateway, gatewayLatencies)];
            foreach (var (target, latencies) in order) await load.SequentialAsync(target, count, latencies);
        }
        var gatewayLatency = Percentiles.Of([gatewayLatencies]);
        var directLatency = Percentiles.Of([directLatencies]);
        Progress.Say($"gateway: unloaded p50/p99 {gatewayLatency.P50Ms:F3}/{gatewayLatency.P99Ms:F3} ms through the gateway, " +
                     $"{directLatency.P50Ms:F3}/{directLatency.P99Ms:F3} ms direct");

        // Throughput: closed loops flat out, the sides alternating (gateway, direct; direct, gateway; ...).
        var gatewayRuns = new List<ThroughputRun>();
        var directRuns = new List<ThroughputRun>();
        for (var repetition = 0; repetition < settings.Repetitions; repetition++)
        {
            (LoadTarget, List<ThroughputRun>)[] order = repetition % 2 == 0 ? [(gateway, gatewayRuns), (bare, directRuns)] : [(bare, directRuns), (gateway, gatewayRuns)];
            foreach (var (target, runs) in order) runs.Add(await load.ClosedLoopsAsync(target, settings.Concurrency, settings.Warmup, settings.Duration));
            Progress.Say($"gateway repetition {repetition + 1}: {gatewayRuns[^1].PerSecond:N0} requests/s through the gateway " +
                         $"({gatewayRuns[^1].CpuMicrosecondsPerRequest:F0} µs CPU each), {directRuns[^1].PerSecond:N0} direct ({directRuns[^1].CpuMicrosecondsPerRequest:F0} µs)");
        }
        var compiledDuring = System.Runtime.JitInfo.GetCompiledMethodCount() - compiledBefore;
        if (load.Failures > 0) throw new InvalidOperationException($"{load.Failures} requests failed; the first: {load.FirstFailure}");
        var metered = await MeteredRequestsAsync(market, leases);
        if (metered != gateway.Answered)
            throw new InvalidOperationException($"The gateway answered {gateway.Answered} requests and its leases metered {metered}.");

        var gatewayRun = Median(gatewayRuns);
        var directRun = Median(directRuns);
        var figures = new Figures();
        figures.Add("added_latency_p50_ms", gatewayLatency.P50Ms - directLatency.P50Ms);
        figures.Add("added_latency_p99_ms", gatewayLatency.P99Ms - directLatency.P99Ms);
        figures.Add("requests_per_second", gatewayRun.PerSecond);
        figures.Add("gateway_latency_p50_ms", gatewayLatency.P50Ms);
        figures.Add("gateway_latency_p99_ms", gatewayLatency.P99Ms);
        figures.Add("gateway_latency_max_ms", gatewayLatency.MaxMs);
        figures.Add("direct_latency_p50_ms", directLatency.P50Ms);
        figures.Add("direct_latency_p99_ms", directLatency.P99Ms);
        figures.Add("direct_latency_max_ms", directLatency.MaxMs);
        figures.Add("requests_per_second_min", gatewayRuns.Min(r => r.PerSecond));
        figures.Add("requests_per_second_max", gatewayRuns.Max(r => r.PerSecond));
        figures.Add("direct_requests_per_second", directRun.PerSecond);
        figures.Add("direct_requests_per_second_min", directRuns.Min(r => r.PerSecond));
        figures.Add("direct_requests_per_second_max", directRuns.Max(r => r.PerSecond));
        figures.Add("gateway_to_direct_ratio", gatewayRun.PerSecond / directRun.PerSecond);
        figures.Add("cpu_us_per_request_gateway", gatewayRun.CpuMicrosecondsPerRequest);
        figures.Add("cpu_us_per_request_direct", directRun.CpuMicrosecondsPerRequest);
        figures.Add("latency_requests", settings.LatencyRequests);
        figures.Add("latency_warmup_requests", settings.LatencyWarmupRequests);
        figures.Add("concurrency", settings.Concurrency);
        figures.Add("leases", leases.Count);
        figures.Add("slots_per_lease", settings.SlotsPerLease);
        figures.Add("jit_warmup_s", warmup.TotalSeconds);
        figures.Add("methods_compiled_while_measuring", compiledDuring);
        figures.Add("warmup_s", settings.Warmup.TotalSeconds);
        figures.Add("duration_s", settings.Duration.TotalSeconds);
        figures.Add("repetitions", settings.Repetitions);
        figures.Add("sqlite_store", settings.Store == MarketStore.Sqlite ? 1 : 0);
        figures.Add("gateway_requests_metered", metered);
        figures.Add("failed_requests", load.Failures);
        figures.Add("request_bytes", RequestBody.Length);
        return figures;
    }

    /// <summary>
    /// Both sides flat out, uncounted, in turns of <see cref="WarmupTurn"/>, until a turn of both compiles almost no method
    /// (at most <see cref="SettledCompilations"/>): the runtime promotes hot methods to their final tier in the background,
    /// which on two cores took more than 20 s of load and, while it lasted, a tenth of the CPU and half the gateway's rate.
    /// A host serves for hours; what is measured is its steady state. At most <see cref="GatewaySettings.JitWarmup"/>.
    /// </summary>
    private static async Task<TimeSpan> WarmUpAsync(HttpLoad load, LoadTarget gateway, LoadTarget bare, GatewaySettings settings)
    {
        var start = System.Diagnostics.Stopwatch.StartNew();
        while (start.Elapsed < settings.JitWarmup)
        {
            var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
            await load.ClosedLoopsAsync(gateway, settings.Concurrency, TimeSpan.Zero, WarmupTurn);
            await load.ClosedLoopsAsync(bare, settings.Concurrency, TimeSpan.Zero, WarmupTurn);
            if (System.Runtime.JitInfo.GetCompiledMethodCount() - compiled <= SettledCompilations) break;
        }
        return start.Elapsed;
    }

    private static readonly TimeSpan WarmupTurn = TimeSpan.FromSeconds(2);
    private const long SettledCompilations = 10;

    /// <summary>Both sides run the same accelerator on the same request: the same text and usage, or the comparison is void.</summary>
    private static async Task RequireSameAnswerAsync(HttpLoad load, LoadTarget gateway, LoadTarget bare)
    {
        using var viaGateway = await load.SendAsync(gateway, 0) ?? throw new InvalidOperationException($"The gateway did not answer: {load.FirstFailure}");
        using var viaDirect = await load.SendAsync(bare, 0) ?? throw new InvalidOperationException($"The bare accelerator did not answer: {load.FirstFailure}");
        static string Essence(JsonDocument answer) =>
            answer.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString() + "\n" +
            answer.RootElement.GetProperty("usage").GetRawText();
        if (Essence(viaGateway) != Essence(viaDirect))
            throw new InvalidOperationException($"The two sides answered differently:\n{Essence(viaGateway)}\n{Essence(viaDirect)}");
    }

    private static async Task<long> MeteredRequestsAsync(GatewayMarket market, IReadOnlyList<GatewayLease> leases)
    {
        long metered = 0;
        foreach (var lease in leases)
        {
            var snapshot = await market.GetLeaseAsync(lease.Id);
            if (snapshot.Status != LeaseStatus.Active) throw new InvalidOperationException($"Lease {LeaseIds.Format(lease.Id)} is {snapshot.Status} after the run.");
            metered += snapshot.Usage.Requests;
        }
        return metered;
    }

    private static ThroughputRun Median(List<ThroughputRun> runs) => runs.OrderBy(r => r.PerSecond).ElementAt(runs.Count / 2);
}
