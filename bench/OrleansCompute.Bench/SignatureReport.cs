// Writes signatures.json (one flat object of named figures, plus machine and command) and signatures.md.
using System.Text;

namespace OrleansCompute.Bench;

public static class SignatureReport
{
    // Issue 6 names no figure, only that the default signer's ~400 signatures/s is too slow: the speed-ups over it are the claim.
    private static readonly Report.Target[] Targets =
    [
        new("sign_speedup", "voucher signs/s ÷ Nethereum's default signer, one thread", "> 1", v => v > 1),
        new("verify_speedup", "voucher verifications/s ÷ Nethereum's default signer, one thread", "> 1", v => v > 1),
    ];

    public static void Write(Figures figures, string command, string directory)
    {
        Directory.CreateDirectory(directory);
        Report.WriteJson(Path.Combine(directory, "signatures.json"), figures.Values.Select(v => v.Key), figures, command);
        File.WriteAllText(Path.Combine(directory, "signatures.md"), Markdown(figures, command));
    }

    private static string Markdown(Figures f, string command)
    {
        string F(string name) => Report.Format(f[name]);
        var md = new StringBuilder();
        md.AppendLine("# Voucher signatures");
        md.AppendLine();
        md.AppendLine($"`{command}` on {Environment.ProcessorCount} cores ({Machine.Processor()}), {Machine.Memory()}; " +
                      $"load average {F("load_average_1m_at_start")} at the start, {F("load_average_1m_at_end")} at the end " +
                      "(the machine was shared with other work). Release build.");
        md.AppendLine();
        md.AppendLine($"{F("vouchers")} EIP-712 vouchers of the escrow's domain, signed and verified (the signer's address recovered) " +
                      "by the market's `VoucherSigner` (libsecp256k1 itself, through Secp256k1.Net) and by Nethereum's default " +
                      "`Eip712TypedDataSigner` with an `EthECKey` (BouncyCastle), which must produce the same signatures to the byte. " +
                      $"Each figure runs {F("duration_s")} s, the four alternating, {F("repetitions")} repetitions, median shown; " +
                      $"then again on {F("threads_all_cores")} threads.");
        md.AppendLine();
        Report.AppendTargets(md, f, Targets);
        md.AppendLine();
        md.AppendLine("| operation | VoucherSigner /s | Nethereum default /s | × |");
        md.AppendLine("| --- | ---: | ---: | ---: |");
        foreach (var (label, ours, theirs, ratio) in new[]
                 {
                     ("sign, one thread", "voucher_signs_per_second", "nethereum_voucher_signs_per_second", "sign_speedup"),
                     ("verify, one thread", "voucher_verifies_per_second", "nethereum_voucher_verifies_per_second", "verify_speedup"),
                     ("sign, all cores", "voucher_signs_per_second_all_cores", "nethereum_voucher_signs_per_second_all_cores", "sign_speedup_all_cores"),
                     ("verify, all cores", "voucher_verifies_per_second_all_cores", "nethereum_voucher_verifies_per_second_all_cores", "verify_speedup_all_cores"),
                 })
        {
            md.AppendLine($"| {label} | {F(ours)} ({F(ours + "_min")}–{F(ours + "_max")}) | {F(theirs)} ({F(theirs + "_min")}–{F(theirs + "_max")}) | {F(ratio)} |");
        }
        md.AppendLine();
        md.AppendLine("Every figure is in `signatures.json`; `bench/README.md` describes the method.");
        return md.ToString();
    }
}
