// Voucher signatures per second (issue 6): the market's signer (VoucherSigner on native libsecp256k1) beside
// Nethereum's default EIP-712 signer (Eip712TypedDataSigner with an EthECKey, on BouncyCastle), same vouchers, same run.
using System.Diagnostics;
using Nethereum.ABI.EIP712;
using Nethereum.Signer;
using Nethereum.Signer.EIP712;
using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Bench;

public sealed record SignatureSettings(int Vouchers, TimeSpan Duration, int Repetitions);

public static class SignatureScenario
{
    // Any chain and contract: the cost of a signature does not depend on the domain.
    private const long ChainId = 31337;
    private const string Escrow = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
    private static readonly string TenantKey = DevAccounts.Tenants[0].PrivateKey;

    public static Figures Run(SignatureSettings settings)
    {
        var signer = new VoucherSigner(ChainId, Escrow);
        var key = new EthECKey(TenantKey);
        var tenant = key.GetPublicAddress();
        var vouchers = Enumerable.Range(0, settings.Vouchers)
            .Select(i => VoucherSigner.ToChainVoucher(Guid.CreateVersion7(), (uint)(i % 64), Credits.FromUnits(1_000_000L * (i + 1)), i % 4 == 0))
            .ToArray();

        // Nethereum's signatures (r||s||v) are what both verify. The two signers must agree to the byte, since both sign
        // deterministically (RFC 6979): a bench of a signer that signs something else would measure nothing.
        var reference = new NethereumVoucherSigner();
        var signatures = vouchers.Select(v => reference.Sign(v, key)).ToArray();
        for (var i = 0; i < vouchers.Length; i++)
        {
            if (!SameSignature(signer.Sign(TenantKey, vouchers[i]), signatures[i]))
                throw new InvalidOperationException($"Voucher {i}: VoucherSigner and Nethereum signed differently.");
            if (signer.RecoverSigner(vouchers[i], signatures[i]) != tenant)
                throw new InvalidOperationException($"Voucher {i}: VoucherSigner did not recover the tenant.");
        }

        // Each operation makes one worker's loop body. The market's signer is shared, as the host shares it; Nethereum's
        // needs one per thread (it sets the message into its TypedData before encoding: shared, threads mix vouchers up).
        var operations = new (string Name, Func<Func<int, bool>> Worker)[]
        {
            ("voucher_signs_per_second", () => i => signer.Sign(TenantKey, vouchers[i]).Length > 0),
            ("nethereum_voucher_signs_per_second", () =>
            {
                var nethereum = new NethereumVoucherSigner();
                return i => nethereum.Sign(vouchers[i], key).Length > 0;
            }),
            ("voucher_verifies_per_second", () => i => signer.RecoverSigner(vouchers[i], signatures[i]) == tenant),
            ("nethereum_voucher_verifies_per_second", () =>
            {
                var nethereum = new NethereumVoucherSigner();
                return i => nethereum.Recover(vouchers[i], signatures[i]) == tenant;
            }),
        };
        var figures = new Figures();
        foreach (var (_, worker) in operations)
        {
            // Warm-up: the JIT and BouncyCastle's precomputed tables.
            Rate(worker, vouchers.Length, TimeSpan.FromMilliseconds(300), threads: 1);
        }

        // One thread, then every core (the host verifies a signature per request and per voucher on whichever thread
        // serves it). The operations alternate within each repetition, so a noisy neighbour hits both sides alike.
        foreach (var threads in new[] { 1, Environment.ProcessorCount })
        {
            var suffix = threads == 1 ? "" : "_all_cores";
            var runs = operations.ToDictionary(o => o.Name, _ => new List<double>());
            for (var repetition = 0; repetition < settings.Repetitions; repetition++)
            {
                foreach (var (name, worker) in repetition % 2 == 0 ? operations : operations.Reverse())
                {
                    runs[name].Add(Rate(worker, vouchers.Length, settings.Duration, threads));
                    Progress.Say($"{name}{suffix}: {runs[name][^1]:N0}");
                }
            }
            foreach (var (name, rates) in runs)
            {
                figures.Add(name + suffix, Median(rates));
                figures.Add(name + suffix + "_min", rates.Min());
                figures.Add(name + suffix + "_max", rates.Max());
            }
            figures.Add("sign_speedup" + suffix, figures["voucher_signs_per_second" + suffix]!.Value / figures["nethereum_voucher_signs_per_second" + suffix]!.Value);
            figures.Add("verify_speedup" + suffix, figures["voucher_verifies_per_second" + suffix]!.Value / figures["nethereum_voucher_verifies_per_second" + suffix]!.Value);
        }
        figures.Add("vouchers", settings.Vouchers);
        figures.Add("duration_s", settings.Duration.TotalSeconds);
        figures.Add("repetitions", settings.Repetitions);
        figures.Add("threads_all_cores", Environment.ProcessorCount);
        return figures;
    }

    /// <summary>Operations per second: <paramref name="threads"/> loops, each over the vouchers in turn, until the time is up.</summary>
    private static double Rate(Func<Func<int, bool>> worker, int count, TimeSpan duration, int threads)
    {
        var bodies = Enumerable.Range(0, threads).Select(_ => worker()).ToArray();
        long done = 0;
        var clock = Stopwatch.StartNew();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, thread =>
        {
            var once = bodies[thread];
            var mine = 0L;
            for (var i = thread * 97 % count; clock.Elapsed < duration; i = (i + 1) % count)
            {
                if (!once(i)) throw new InvalidOperationException("A signature operation gave a wrong answer.");
                mine++;
            }
            Interlocked.Add(ref done, mine);
        });
        return done / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Nethereum's default way to sign and verify EIP-712 typed data, set up for the escrow's vouchers.</summary>
    private sealed class NethereumVoucherSigner
    {
        private readonly Eip712TypedDataSigner _signer = new();
        private readonly TypedData<Domain> _typedData = new()
        {
            Domain = new Domain { Name = VoucherSigner.DomainName, Version = VoucherSigner.DomainVersion, ChainId = ChainId, VerifyingContract = Escrow },
            Types = MemberDescriptionFactory.GetTypesMemberDescription(typeof(Domain), typeof(Voucher)),
            PrimaryType = VoucherSigner.PrimaryType,
        };

        public string Sign(Voucher voucher, EthECKey key) => _signer.SignTypedDataV4(voucher, _typedData, key);

        public string Recover(Voucher voucher, string signature) => _signer.RecoverFromSignatureV4(voucher, _typedData, signature);
    }

    /// <summary>A compact (r||vs) and a full (r||s||v) signature with the same r, s and v.</summary>
    private static bool SameSignature(string compact, string full)
    {
        var c = Convert.FromHexString(compact[2..]);
        var f = Convert.FromHexString(full[2..]);
        var vs = (byte[])c[32..].Clone();
        var v = 27 + (vs[0] >> 7);
        vs[0] &= 0x7F;
        return c.Length == 64 && f.Length == 65 && c[..32].SequenceEqual(f[..32]) && vs.SequenceEqual(f[32..64]) && f[64] == v;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
