// Writes gateway.json (one flat object of named figures, plus machine and command) and gateway.md.
using System.Text;

namespace OrleansCompute.Bench;

public static class GatewayReport
{
    /// <summary>The figures issue 6 names come first; everything else follows in the order it was measured.</summary>
    private static readonly string[] Leading =
    [
        "added_latency_p50_ms", "added_latency_p99_ms", "requests_per_second", "voucher_signs_per_second", "voucher_verifies_per_second",
        "nethereum_signs_per_second", "nethereum_verifies_per_second", "sign_speedup", "verify_speedup",
    ];

    private static readonly Report.Target[] Targets =
    [
        new("added_latency_p50_ms", "added latency p50 ms (gateway − direct, one request at a time)", "≤ 0.5", v => v <= 0.5),
        new("added_latency_p99_ms", "added latency p99 ms (gateway − direct, one request at a time)", "≤ 2", v => v <= 2),
        new("requests_per_second", "non-streaming requests/s through the gateway", "≥ 10,000", v => v >= 10_000),
        new("sign_speedup", "voucher signs/s ÷ Nethereum's default signer, one thread", "≥ 10", v => v >= 10),
        new("verify_speedup", "voucher verifications/s ÷ Nethereum's default signer, one thread", "≥ 10", v => v >= 10),
    ];

    public static void Write(Figures figures, string command, string directory)
    {
        Directory.CreateDirectory(directory);
        var ordered = Leading.Where(n => figures[n] is not null).Concat(figures.Values.Select(v => v.Key).Where(n => !Leading.Contains(n)));
        Report.WriteJson(Path.Combine(directory, "gateway.json"), ordered, figures, command);
        File.WriteAllText(Path.Combine(directory, "gateway.md"), Markdown(figures, command));
    }

    private static string Markdown(Figures f, string command)
    {
        string F(string name) => Report.Format(f[name]);
        var md = new StringBuilder();
        md.AppendLine("# Gateway overhead");
        md.AppendLine();
        md.AppendLine($"`{command}` on {Environment.ProcessorCount} cores ({Machine.Processor()}), {Machine.Memory()}; " +
                      $"load average {F("load_average_1m_at_start")} at the start, {F("load_average_1m_at_end")} at the end " +
                      "(the machine was shared with other work). Release build, server GC; the host, Anvil, the bare accelerator and the " +
                      "load generator share the cores.");
        md.AppendLine();
        md.AppendLine($"The real host (`MarketHost`: Orleans silo, ASP.NET Core, gateway; SQLite store and demo pools as on the devnet) on a real Anvil, " +
                      $"with {F("leases")} token-billed Trainium2 leases of {F("slots_per_lease")} slots taken with `occ` (escrow funded on chain, active, each with its key). " +
                      $"The baseline is the same `SimulatedAccelerator` served by a bare Kestrel endpoint in the same process (no key, no lease, no metering). " +
                      "Both answer at once (`Gateway:SimulatedPacing=false`) to the same non-streaming `POST /v1/chat/completions` body " +
                      $"({F("request_bytes")} bytes), sent over loopback HTTP by one `HttpClient`; every answer is checked (200, a completion, its usage), " +
                      $"and the leases must have metered every request the gateway answered ({F("gateway_requests_metered")}).");
        md.AppendLine();
        md.AppendLine($"Latency: one request at a time, {F("latency_requests")} each way after {F("latency_warmup_requests")} warm-up requests each, " +
                      "gateway and direct alternating in rounds of 100; added = gateway − direct at the same percentile. " +
                      $"Throughput: {F("concurrency")} closed loops (each sends again once answered), {F("warmup_s")} s warm-up then {F("duration_s")} s counted, " +
                      $"gateway and direct alternating, {F("repetitions")} repetitions, median shown. Voucher signatures: `signatures` run as a child " +
                      "process in the same run (see `signatures.md` for its method).");
        md.AppendLine();
        Report.AppendTargets(md, f, Targets);
        md.AppendLine();
        Report.AppendFigures(md, f,
        [
            ("gateway latency p50 ms, one request at a time", "gateway_latency_p50_ms"),
            ("gateway latency p99 ms, one request at a time", "gateway_latency_p99_ms"),
            ("direct latency p50 ms, one request at a time", "direct_latency_p50_ms"),
            ("direct latency p99 ms, one request at a time", "direct_latency_p99_ms"),
            ("requests/s direct (same loops, same body)", "direct_requests_per_second"),
            ("gateway ÷ direct requests/s", "gateway_to_direct_ratio"),
            ("gateway requests/s, slowest run", "requests_per_second_min"),
            ("gateway requests/s, fastest run", "requests_per_second_max"),
            ("direct requests/s, slowest run", "direct_requests_per_second_min"),
            ("direct requests/s, fastest run", "direct_requests_per_second_max"),
            ("process CPU µs per request, gateway (load generator included)", "cpu_us_per_request_gateway"),
            ("process CPU µs per request, direct (load generator included)", "cpu_us_per_request_direct"),
            ("voucher signs/s, market's signer (one thread)", "voucher_signs_per_second"),
            ("voucher signs/s, Nethereum's default (one thread)", "nethereum_signs_per_second"),
            ("voucher verifications/s, market's signer (one thread)", "voucher_verifies_per_second"),
            ("voucher verifications/s, Nethereum's default (one thread)", "nethereum_verifies_per_second"),
        ]);
        md.AppendLine();
        md.AppendLine("Every figure is in `gateway.json`; `bench/README.md` describes the method.");
        return md.ToString();
    }
}
