// Writes settlement.json (one flat object of named figures, plus machine and command) and settlement.md.
using System.Text;

namespace OrleansCompute.Bench;

public static class SettlementReport
{
    private static readonly Report.Target[] Targets =
    [
        new("leases_settled_per_second", "leases settled/s, final voucher → settlement seen by the chain watcher", "≥ 5,000", v => v >= 5_000),
        new("settled_to_raw_ratio", "leases settled/s ÷ raw transfers/s, same run", "≥ 4", v => v >= 4),
    ];

    public static void Write(Figures figures, string command, string directory)
    {
        Directory.CreateDirectory(directory);
        Report.WriteJson(Path.Combine(directory, "settlement.json"), figures.Values.Select(v => v.Key), figures, command);
        File.WriteAllText(Path.Combine(directory, "settlement.md"), Markdown(figures, command));
    }

    private static string Markdown(Figures f, string command)
    {
        string F(string name) => Report.Format(f[name]);
        var md = new StringBuilder();
        md.AppendLine("# Settlement throughput");
        md.AppendLine();
        md.AppendLine($"`{command}` on {Environment.ProcessorCount} cores ({Machine.Processor()}), {Machine.Memory()}; " +
                      $"load average {F("load_average_1m_at_start")} at the start, {F("load_average_1m_at_end")} at the end " +
                      "(the machine was shared with other work, and Anvil runs on the same cores). Release build, server GC, one in-process silo.");
        md.AppendLine();
        md.AppendLine($"Each repetition opens {F("leases")} leases in the escrow of one Anvil that serves every repetition ({F("tenants")} tenants, {F("providers")} providers new to each repetition; unmeasured), " +
                      $"then enqueues every final voucher at its provider's settlement grain and times until the chain watcher, run as the host runs it " +
                      $"(a poll every {F("watcher_poll_ms")} ms, no confirmations on Anvil), has seen the last lease closed; the rate at the last settleBatch receipt is beside it " +
                      $"(batches of up to {F("batch_size")}, flush delay {F("flush_delay_ms")} ms). The baseline is {F("raw_transfers")} plain ERC-20 transfers of " +
                      $"the credit from {F("raw_transfer_senders")} keys through the same TransactionSender, pipelined, first send to last receipt. " +
                      $"The two alternate, {F("repetitions")} repetitions; the median run of each is shown. Anvil's cost per block grows with its chain and " +
                      "state, so before the first repetition the same transfers also run once on the fresh chain: Anvil's best case here.");
        md.AppendLine();
        Report.AppendTargets(md, f, Targets);
        md.AppendLine();
        Report.AppendFigures(md, f,
        [
            ("raw ERC-20 transfers/s (same Anvil, same sender code)", "raw_transfers_per_second"),
            ("raw ERC-20 transfers/s on the fresh chain, before any lease", "raw_transfers_per_second_fresh_chain"),
            ("leases settled/s ÷ fresh-chain transfers/s", "settled_to_fresh_chain_raw_ratio"),
            ("leases settled/s, slowest run", "leases_settled_per_second_min"),
            ("leases settled/s, fastest run", "leases_settled_per_second_max"),
            ("leases settled/s counted at the settleBatch receipts (median run)", "leases_settled_per_second_at_receipt"),
            ("voucher → seen settled by the watcher, p50 ms", "settle_p50_ms"),
            ("voucher → seen settled by the watcher, p99 ms", "settle_p99_ms"),
            ("voucher → settleBatch receipt, p50 ms", "receipt_p50_ms"),
            ("voucher → settleBatch receipt, p99 ms", "receipt_p99_ms"),
            ("enqueue acknowledged p99 ms", "enqueue_p99_ms"),
            ("raw transfer send → receipt p50 ms", "raw_transfer_p50_ms"),
            ("raw transfer send → receipt p99 ms", "raw_transfer_p99_ms"),
            ("settleBatch transactions sent", "batches_sent"),
            ("leases per batch", "leases_per_batch"),
            ("gas per lease settled", "gas_per_lease"),
            ("bench process CPU ms per 1,000 leases settled", "settle_cpu_ms_per_1000_leases"),
        ]);
        md.AppendLine();
        md.AppendLine("Every figure is in `settlement.json`; `bench/README.md` describes the method.");
        return md.ToString();
    }
}
