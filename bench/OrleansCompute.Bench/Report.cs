// Writes market.json (one flat object of named figures, plus machine and command) and market.md.
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OrleansCompute.Bench;

public static class Report
{
    /// <summary>The figures the issue names come first; everything else follows in the order it was measured.</summary>
    private static readonly string[] Leading =
    [
        "leases_per_second_memory", "p50_ms_memory", "p99_ms_memory", "ping_calls_per_second", "ping_p99_ms", "lease_to_ping_ratio",
        "leases_per_second_sqlite", "p50_ms_sqlite", "p99_ms_sqlite", "paced_rate_memory", "paced_rate_sqlite",
        "p99_ms_memory_saturated", "p99_ms_sqlite_saturated", "bytes_per_slot", "slots", "concurrent_tenants", "duration_s",
    ];

    /// <summary>A figure an issue sets a target for, and the test that it is met.</summary>
    internal sealed record Target(string Figure, string Label, string Goal, Func<double, bool> Met);

    private static readonly Target[] Targets =
    [
        new("leases_per_second_memory", "leases/s, in-memory store", "≥ 50,000", v => v >= 50_000),
        new("lease_to_ping_ratio", "leases/s ÷ ping calls/s, same silo", "≥ 0.25", v => v >= 0.25),
        new("p99_ms_memory", "p99 ms at 50,000 leases/s (paced), in-memory store", "≤ 20", v => v <= 20),
        new("leases_per_second_sqlite", "leases/s, SQLite store", "≥ 10,000", v => v >= 10_000),
        new("p99_ms_sqlite", "p99 ms at 10,000 leases/s (paced), SQLite store", "≤ 20", v => v <= 20),
        new("bytes_per_slot", "bytes per slot of a million-slot market: pools and active slot grains (working set)", "≤ 4,096", v => v <= 4096),
    ];

    public static void Write(Figures figures, string command, string directory)
    {
        var ordered = Leading.Where(n => figures[n] is not null).Concat(figures.Values.Select(v => v.Key).Where(n => !Leading.Contains(n)));
        WriteJson(Path.Combine(directory, "market.json"), ordered, figures, command);
        File.WriteAllText(Path.Combine(directory, "market.md"), Markdown(figures, command));
    }

    /// <summary>A results file: the named figures in <paramref name="order"/>, then the machine and the command that measured them.</summary>
    internal static void WriteJson(string path, IEnumerable<string> order, Figures figures, string command)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        foreach (var name in order) json.WriteNumber(name, Rounded(figures[name]!.Value));
        json.WriteStartObject("machine");
        json.WriteNumber("cores", Environment.ProcessorCount);
        json.WriteString("memory", Machine.Memory());
        json.WriteString("processor", Machine.Processor());
        json.WriteEndObject();
        json.WriteString("command", command);
        json.WriteEndObject();
    }

    private static string Markdown(Figures figures, string command)
    {
        var md = new StringBuilder();
        md.AppendLine("# Market load");
        md.AppendLine();
        md.AppendLine($"`{command}` on {Environment.ProcessorCount} cores ({Machine.Processor()}), {Machine.Memory()}; " +
                      $"load average {Format(figures["load_average_1m_at_start"])} at the start, {Format(figures["load_average_1m_at_end"])} at the end " +
                      "(the machine was shared with other work). Release build, server GC, one in-process silo, calls from its own client.");
        md.AppendLine();
        md.AppendLine($"{Format(figures["concurrent_tenants"])} tenants over {Format(figures["slots"])} slots in {Format(figures["pools"])} pools; " +
                      $"{Format(figures["warmup_s"])} s warm-up then {Format(figures["duration_s"])} s measured, {Format(figures["repetitions"])} repetitions, median run shown. " +
                      $"A tenant holds at most {Format(figures["leases_held_per_tenant"])} leases: once it does, it cancels the oldest; cancels are not counted as leases. " +
                      "Rates come from closed loops (each tenant sends again as soon as it is answered: the most the market does); " +
                      $"the p99 targets from the same tenants paced together at the target rate ({Format(figures["paced_rate_memory"])} and " +
                      $"{Format(figures["paced_rate_sqlite"])} leases/s), each request timed from when its schedule said to send it.");
        md.AppendLine();
        AppendTargets(md, figures, Targets);
        md.AppendLine();
        AppendFigures(md, figures,
        [
            ("ping calls/s (trivial grain, same silo, same loops)", "ping_calls_per_second"),
            ("ping p99 ms", "ping_p99_ms"),
            ("lease p50 ms at 50,000 leases/s (paced), in-memory", "p50_ms_memory"),
            ("lease p50 ms at 10,000 leases/s (paced), SQLite", "p50_ms_sqlite"),
            ("lease p50 ms flat out (closed loops), in-memory", "p50_ms_memory_saturated"),
            ("lease p99 ms flat out (closed loops), in-memory", "p99_ms_memory_saturated"),
            ("lease p50 ms flat out (closed loops), SQLite", "p50_ms_sqlite_saturated"),
            ("lease p99 ms flat out (closed loops), SQLite", "p99_ms_sqlite_saturated"),
            ("cancels/s beside the leases (not counted)", "cancels_per_second_memory"),
            ("CPU µs per lease (with its cancel)", "cpu_us_per_lease_memory"),
            ("CPU µs per ping", "cpu_us_per_ping"),
            ("grain calls per lease, 1,000 tenants at once", "grain_calls_per_lease"),
            ("pool calls per lease, 1,000 tenants at once", "pool_calls_per_lease"),
            ("pool calls per lease, one at a time", "pool_calls_per_lease_steady"),
            ("grain calls per lease and its cancel, one at a time", "grain_calls_per_lease_and_cancel_steady"),
            ("storage writes per lease", "storage_writes_per_lease"),
            ("unloaded lease p50 ms (one tenant alone)", "unloaded_lease_p50_ms"),
            ("unloaded ping p50 ms", "unloaded_ping_p50_ms"),
            ("calls/s to a fresh ping grain each (activation included)", "fresh_grain_ping_calls_per_second"),
            ("managed heap bytes per slot of a million-slot market", "managed_bytes_per_slot"),
            ("bytes per active ping grain (working set)", "bytes_per_ping_grain"),
        ]);
        md.AppendLine();
        md.AppendLine("Every figure is in `market.json`.");
        md.AppendLine();
        md.AppendLine("### Where a lease goes");
        md.AppendLine();
        foreach (var section in figures.Markdown) md.AppendLine(section);
        return md.ToString();
    }

    /// <summary>The table of targets: each figure, its goal and whether it was met.</summary>
    internal static void AppendTargets(StringBuilder md, Figures figures, IEnumerable<Target> targets)
    {
        md.AppendLine("| figure | measured | target | met |");
        md.AppendLine("| --- | ---: | ---: | :---: |");
        foreach (var target in targets)
        {
            var value = figures[target.Figure];
            md.AppendLine(value is { } v
                ? $"| {target.Label} | {Format(v)} | {target.Goal} | {(target.Met(v) ? "yes" : "no")} |"
                : $"| {target.Label} | not measured | {target.Goal} | |");
        }
    }

    /// <summary>The table of baseline and side figures, (label, figure name) in order; figures not measured are left out.</summary>
    internal static void AppendFigures(StringBuilder md, Figures figures, IEnumerable<(string Label, string Name)> rows)
    {
        md.AppendLine("| baseline and side figures | measured |");
        md.AppendLine("| --- | ---: |");
        foreach (var (label, name) in rows)
        {
            if (figures[name] is { } value) md.AppendLine($"| {label} | {Format(value)} |");
        }
    }

    /// <summary>Three decimals, or four significant digits for figures below one (a ratio of 0.0031 stays readable).</summary>
    internal static double Rounded(double value) =>
        Math.Abs(value) is >= 1 or 0 ? Math.Round(value, 3) : Math.Round(value, 3 - (int)Math.Floor(Math.Log10(Math.Abs(value))));

    internal static string Format(double? value) => value switch
    {
        null => "?",
        >= 100 => value.Value.ToString("N0", CultureInfo.InvariantCulture),
        >= 1 => value.Value.ToString("0.##", CultureInfo.InvariantCulture),
        _ => value.Value.ToString("0.####", CultureInfo.InvariantCulture),
    };
}

public static class Machine
{
    public static string Processor() =>
        File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
            : "unknown";

    public static string Memory()
    {
        var total = File.Exists("/proc/meminfo")
            ? File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))
            : null;
        if (total is null) return $"{GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1073741824.0:0.0} GiB";
        var kib = long.Parse(total.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return $"{kib / 1048576.0:0.0} GiB";
    }

    public static double LoadAverage() =>
        File.Exists("/proc/loadavg")
            ? double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture)
            : double.NaN;
}
