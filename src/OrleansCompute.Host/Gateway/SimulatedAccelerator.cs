using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using OrleansCompute.Abstractions.Catalog;

namespace OrleansCompute.Host.Gateway;

/// <summary>
/// The built-in backend: a simulated accelerator that answers every prompt with deterministic text (the same prompt,
/// the same answer) at the speed of the leased kind's catalog profile, so a Trainium2 slot and an H100 slot answer at
/// different rates. It runs no model: its output is filler text, and it says so in <c>/v1/models</c>.
/// </summary>
public sealed class SimulatedAccelerator(TokenCounter tokens)
{
    public const string ModelId = "occ-simulated-llama-3.1-8b";

    // Common words that are one token each in o200k_base, so the stream's pacing is per token.
    private static readonly string[] Words =
    [
        " the", " market", " of", " and", " to", " in", " is", " for", " on", " with", " as", " at", " by", " this", " that",
        " from", " your", " it", " are", " be", " can", " more", " all", " will", " one", " time", " price", " hour", " data",
        " model", " text", " run", " fast", " low", " cost", " power", " each", " new", " work", " chip", " memory", " lease",
    ];

    /// <summary>
    /// The answer, piece by piece, at most <paramref name="maxTokens"/> tokens. The first piece comes after a prefill time
    /// (fixed overhead plus the prompt at eight times the decode rate, an estimate); then one token per
    /// <paramref name="concurrencyPerSlot"/> ÷ the profile's tokens/s, the share of the slot's batched throughput one stream gets.
    /// </summary>
    public async IAsyncEnumerable<string> GenerateAsync(AcceleratorProfile profile, int concurrencyPerSlot, string prompt, int promptTokens,
        int maxTokens, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var seed = BitConverter.ToInt32(SHA256.HashData(Encoding.UTF8.GetBytes(prompt)));
        var random = new Random(seed);
        var length = Math.Min(maxTokens, random.Next(24, 97));
        var perToken = TimeSpan.FromSeconds((double)concurrencyPerSlot / profile.TokensPerSecond);
        var prefill = TimeSpan.FromMilliseconds(15) + TimeSpan.FromSeconds(promptTokens / (8.0 * profile.TokensPerSecond));
        await Task.Delay(prefill, cancellationToken);

        // Tokens are paced in ticks of about 10 ms: a timer per token would cost more than the wait it measures.
        var perTick = Math.Max(1, (int)Math.Ceiling(TimeSpan.FromMilliseconds(10) / perToken));
        var produced = 0;
        for (var i = 0; produced < length; i++)
        {
            var word = Words[random.Next(Words.Length)];
            var piece = i == 0 ? char.ToUpperInvariant(word[1]) + word[2..] : word;
            var cost = tokens.Count(piece);
            if (produced + cost > length) break;
            produced += cost;
            yield return piece;
            if (i % perTick == perTick - 1) await Task.Delay(perToken * perTick, cancellationToken);
        }
    }
}
