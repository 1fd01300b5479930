// The market bench. `all` runs every scenario, each in its own process so none inherits another's grains or heap,
// and writes bench/results/market.json and market.md. The scenarios can be run alone:
//   market --store memory|sqlite   leases/s flat out beside ping calls/s (same silo, interleaved), latency paced at the target rate
//   profile                        grain calls and storage operations per lease, unloaded latencies
//   memory --grain slot|ping       bytes per active grain with --count grains in one silo (`all`: 1,000,000 slots,
//                                  --baseline-count 200,000 ping grains)
// `settlement` (issue 5, not part of `all`) settles leases on a real Anvil beside raw ERC-20 transfers and writes
// settlement.json and settlement.md to --results (bench/settlement/run.sh), or --out like the other scenarios.
// `signatures` (issue 6, not part of `all`) signs and verifies vouchers with the market's signer beside Nethereum's default
// and writes signatures.json and signatures.md (bench/signatures/run.sh).
// `gateway` (issue 6, not part of `all`) measures the latency the inference gateway adds and its requests/s against the
// bare simulated accelerator, on the real host and a real Anvil, runs `signatures` as a child for the voucher figures,
// and writes gateway.json and gateway.md (bench/gateway/run.sh).
using System.Diagnostics;
using OrleansCompute.Bench;

var options = Options.Parse(args);
var settings = new LoadSettings(
    Tenants: options.Int("tenants", 1_000),
    Slots: options.Int("slots", 10_240),
    HeldPerTenant: options.Int("held", 2),
    Warmup: TimeSpan.FromSeconds(options.Double("warmup", 2)),
    Duration: TimeSpan.FromSeconds(options.Double("duration", 10)),
    Repetitions: options.Int("repetitions", 3),
    // The paced runs send at the issue's throughput targets, to show the latency a tenant sees at that rate.
    PacedRateMemory: options.Double("paced-rate-memory", 50_000),
    PacedRateSqlite: options.Double("paced-rate-sqlite", 10_000));
var dataDirectory = Path.Combine(Path.GetTempPath(), $"occ-bench-{Environment.ProcessId}");

try
{
    switch (options.Command)
    {
        case "all":
            await RunAllAsync();
            break;
        case "market":
            (await MarketScenario.RunAsync(options.Store, settings, dataDirectory)).Save(options.Required("out"));
            break;
        case "profile":
            (await ProfileScenario.RunAsync(settings, dataDirectory)).Save(options.Required("out"));
            break;
        case "settlement":
            await RunSettlementAsync();
            break;
        case "signatures":
            RunSignatures();
            break;
        case "gateway":
            await RunGatewayAsync();
            break;
        case "memory":
            (await MemoryScenario.RunAsync(options.Grain, options.Int("count", 1_000_000), dataDirectory)).Save(options.Required("out"));
            break;
        default:
            Console.Error.WriteLine($"Unknown scenario '{options.Command}'. Use: all | market --store memory|sqlite | profile | memory --grain slot|ping | settlement | signatures | gateway");
            return 2;
    }
    return 0;
}
finally
{
    if (Directory.Exists(dataDirectory)) Directory.Delete(dataDirectory, recursive: true);
}

async Task RunAllAsync()
{
    var resultsDirectory = options.Value("results") ?? Path.Combine("bench", "results");
    Directory.CreateDirectory(resultsDirectory);
    var figures = new Figures();
    figures.Add("load_average_1m_at_start", Machine.LoadAverage());
    var shared = options.Pass("tenants", "slots", "held", "warmup", "duration", "repetitions", "paced-rate-memory", "paced-rate-sqlite");

    figures.AddAll(await ChildAsync(["market", "--store", "memory", .. shared]));
    figures.AddAll(await ChildAsync(["market", "--store", "sqlite", .. shared]));
    figures.AddAll(await ChildAsync(["profile", .. shared]));
    // Per-grain cost is linear in the count, so the ping baseline needs fewer grains than the slots to be exact enough.
    figures.AddAll(await ChildAsync(["memory", "--grain", "slot", "--count", options.Value("count") ?? "1000000"]));
    figures.AddAll(await ChildAsync(["memory", "--grain", "ping", "--count", options.Value("baseline-count") ?? "200000"]));

    Finish(figures, "market", Report.Write);
}

async Task RunSettlementAsync()
{
    var figures = new Figures();
    figures.Add("load_average_1m_at_start", Machine.LoadAverage());
    figures.AddAll(await SettlementScenario.RunAsync(new SettlementSettings(
        Leases: options.Int("leases", 10_000),
        Tenants: options.Int("tenants", 8),
        Providers: options.Int("providers", 4),
        Transfers: options.Int("transfers", 2_000),
        TransferSenders: options.Int("transfer-senders", 4),
        Repetitions: options.Int("repetitions", 3),
        AnvilArguments: (options.Value("anvil-args") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)), options.Store, dataDirectory));
    Finish(figures, "settlement", SettlementReport.Write);
}

void RunSignatures()
{
    var figures = new Figures();
    figures.Add("load_average_1m_at_start", Machine.LoadAverage());
    figures.AddAll(SignatureScenario.Run(new SignatureSettings(
        Vouchers: options.Int("vouchers", 1_000),
        Duration: TimeSpan.FromSeconds(options.Double("duration", 3)),
        Repetitions: options.Int("repetitions", 3))));
    Finish(figures, "signatures", SignatureReport.Write);
}

async Task RunGatewayAsync()
{
    var figures = new Figures();
    figures.Add("load_average_1m_at_start", Machine.LoadAverage());
    figures.AddAll(await GatewayScenario.RunAsync(new GatewaySettings(
        Leases: options.Int("leases", 4),
        SlotsPerLease: options.Int("slots", 4),
        LatencyRequests: options.Int("latency-requests", 5_000),
        LatencyWarmupRequests: options.Int("latency-warmup", 1_000),
        Concurrency: options.Int("concurrency", 64),
        JitWarmup: TimeSpan.FromSeconds(options.Double("jit-warmup", 90)),
        Warmup: TimeSpan.FromSeconds(options.Double("warmup", 2)),
        Duration: TimeSpan.FromSeconds(options.Double("duration", 5)),
        Repetitions: options.Int("repetitions", 3),
        Store: Enum.Parse<MarketStore>(options.Value("store") ?? "sqlite", ignoreCase: true)), dataDirectory));
    // The voucher figures of the same run, from the signatures scenario in a process of its own, under the issue's names.
    var signatures = await ChildAsync(["signatures", .. options.Pass("repetitions", "vouchers"),
        .. options.Value("signature-duration") is { } seconds ? new[] { "--duration", seconds } : []]);
    foreach (var (name, value) in signatures.Values)
    {
        if (name.StartsWith("nethereum_voucher_", StringComparison.Ordinal)) figures.Add("nethereum_" + name["nethereum_voucher_".Length..], value);
        else if (name.StartsWith("voucher_", StringComparison.Ordinal) || name.Contains("_speedup", StringComparison.Ordinal)) figures.Add(name, value);
        else if (name is "vouchers" or "duration_s" or "repetitions" or "threads_all_cores") figures.Add("signature_" + name, value);
    }
    Finish(figures, "gateway", GatewayReport.Write);
}

// A scenario's figures end in the --out file when run as a child of another, else in its report under --results.
void Finish(Figures figures, string report, Action<Figures, string, string> write)
{
    figures.Add("load_average_1m_at_end", Machine.LoadAverage());
    if (options.Value("out") is { } output)
    {
        figures.Save(output);
        return;
    }
    var resultsDirectory = options.Value("results") ?? Path.Combine("bench", "results");
    write(figures, options.Value("command") ?? $"dotnet OrleansCompute.Bench.dll {string.Join(' ', args)}", resultsDirectory);
    Progress.Say($"wrote {Path.Combine(resultsDirectory, report + ".json")} and {report}.md");
}

async Task<Figures> ChildAsync(string[] childArgs)
{
    var output = Path.Combine(Path.GetTempPath(), $"occ-bench-{Environment.ProcessId}-{childArgs[0]}-{Guid.NewGuid():N}.json");
    var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
    if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet") start.ArgumentList.Add(typeof(Options).Assembly.Location);
    foreach (var arg in childArgs.Append("--out").Append(output)) start.ArgumentList.Add(arg);
    using var child = Process.Start(start)!;
    await child.WaitForExitAsync();
    if (child.ExitCode != 0) throw new InvalidOperationException($"`{string.Join(' ', childArgs)}` failed with exit code {child.ExitCode}.");
    var figures = Figures.Load(output);
    File.Delete(output);
    return figures;
}

internal sealed class Options
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public string Command { get; private init; } = "all";

    public static Options Parse(string[] args)
    {
        var named = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal);
        var options = new Options { Command = named ? args[0] : "all" };
        for (var i = named ? 1 : 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"Expected --name value, got '{args[i]}'.");
            options._values[args[i][2..]] = args[++i];
        }
        return options;
    }

    public string? Value(string name) => _values.GetValueOrDefault(name);
    public string Required(string name) => Value(name) ?? throw new ArgumentException($"--{name} is required.");
    public int Int(string name, int fallback) => Value(name) is { } text ? int.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : fallback;
    public double Double(string name, double fallback) => Value(name) is { } text ? double.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : fallback;

    public MarketStore Store => Enum.Parse<MarketStore>(Value("store") ?? "memory", ignoreCase: true);
    public MemoryGrain Grain => Enum.Parse<MemoryGrain>(Value("grain") ?? "slot", ignoreCase: true);

    /// <summary>The given options among <paramref name="names"/>, to hand on to a scenario's process.</summary>
    public string[] Pass(params string[] names) =>
        names.Where(_values.ContainsKey).SelectMany(n => new[] { $"--{n}", _values[n] }).ToArray();
}
