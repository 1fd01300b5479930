using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions.Catalog;

namespace OrleansCompute.Host.Gateway;

/// <summary>
/// The built-in backend: a simulated accelerator that answers every prompt with deterministic text (the same prompt,
/// the same answer) at the speed of the leased kind's catalog profile, so a Trainium2 slot and an H100 slot answer at
/// different rates. It runs no model: its output is filler text, and it says so in <c>/v1/models</c>. With
/// <see cref="GatewayOptions.SimulatedPacing"/> off it answers at once, with the same text.
/// </summary>
public sealed class SimulatedAccelerator(TokenCounter tokens, IOptions<GatewayOptions> options) : IInferenceBackend
{
    private readonly bool _paced = options.Value.SimulatedPacing;

    // The answer is made of a fixed vocabulary, so each word's tokens are counted once, not at every use.
    private readonly Piece[] _words = Words.Select(w => new Piece(w, tokens.Count(w))).ToArray();
    private readonly Piece[] _firstWords = Words.Select(w => char.ToUpperInvariant(w[1]) + w[2..]).Select(w => new Piece(w, tokens.Count(w))).ToArray();

    public const string Model = "occ-simulated-llama-3.1-8b";

    public string ModelId => Model;

    public string OwnedBy(AcceleratorProfile profile) => $"orleanscompute-simulated-{profile.Kind}";

    public async Task AnswerAsync(HttpContext http, InferenceCall call, UsageMeter meter)
    {
        var request = call.Request;
        meter.PromptTokens = call.PromptTokens;
        var answer = new Answer($"{(call.Chat ? "chatcmpl" : "cmpl")}-{Guid.NewGuid():N}", DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            request.Model, $"occ-simulated-{call.Profile.Kind}", call.Chat);
        var pieces = GenerateAsync(call.Profile, call.ConcurrencyPerSlot, request.Prompt, meter.PromptTokens, request.MaxTokens, http.RequestAborted);
        var text = new StringBuilder();
        // Every generated token is metered, a stop sequence's too: it was run, though it is not sent.
        var cutter = new StopSequenceCutter(request.Stop);

        if (!request.Stream)
        {
            await foreach (var piece in pieces)
            {
                meter.CompletionTokens += piece.Tokens;
                text.Append(cutter.Take(piece.Text));
                if (cutter.Stopped) break;
            }
            text.Append(cutter.Rest());
            await http.Response.WriteAsJsonAsync(answer.Whole(text.ToString(), FinishReason(meter, request, cutter), meter.PromptTokens, meter.CompletionTokens),
                OpenAiWire.Json, http.RequestAborted);
            return;
        }

        OpenAiWire.StartEventStream(http);
        if (call.Chat) await OpenAiWire.SendEventAsync(http, answer.Chunk(new { role = "assistant", content = "" }, finishReason: null));
        await foreach (var piece in pieces)
        {
            meter.CompletionTokens += piece.Tokens;
            await SendPieceAsync(http, answer, cutter.Take(piece.Text));
            if (cutter.Stopped) break;
        }
        await SendPieceAsync(http, answer, cutter.Rest());
        var finish = FinishReason(meter, request, cutter);
        await OpenAiWire.SendEventAsync(http, call.Chat ? answer.Chunk(new { }, finish) : answer.TextChunk("", finish));
        if (request.IncludeUsage) await OpenAiWire.SendEventAsync(http, answer.UsageChunk(meter.PromptTokens, meter.CompletionTokens));
        await OpenAiWire.SendDoneAsync(http);
    }

    private static Task SendPieceAsync(HttpContext http, Answer answer, string piece) =>
        piece.Length == 0 ? Task.CompletedTask
        : OpenAiWire.SendEventAsync(http, answer.Chat ? answer.Chunk(new { content = piece }, finishReason: null) : answer.TextChunk(piece, finishReason: null));

    private static string FinishReason(UsageMeter meter, CompletionRequest request, StopSequenceCutter cutter) =>
        !cutter.Stopped && meter.CompletionTokens >= request.MaxTokens ? "length" : "stop";

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
    /// Unpaced, the same pieces come without waiting.
    /// </summary>
    private async IAsyncEnumerable<Piece> GenerateAsync(AcceleratorProfile profile, int concurrencyPerSlot, string prompt, int promptTokens,
        int maxTokens, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var seed = BitConverter.ToInt32(SHA256.HashData(Encoding.UTF8.GetBytes(prompt)));
        var random = new Random(seed);
        var length = Math.Min(maxTokens, random.Next(24, 97));
        var perToken = TimeSpan.FromSeconds((double)concurrencyPerSlot / profile.TokensPerSecond);
        var prefill = TimeSpan.FromMilliseconds(15) + TimeSpan.FromSeconds(promptTokens / (8.0 * profile.TokensPerSecond));
        if (_paced) await Task.Delay(prefill, cancellationToken);

        // Tokens are paced in ticks of about 10 ms: a timer per token would cost more than the wait it measures.
        var perTick = Math.Max(1, (int)Math.Ceiling(TimeSpan.FromMilliseconds(10) / perToken));
        var produced = 0;
        for (var i = 0; produced < length; i++)
        {
            var word = random.Next(Words.Length);
            var piece = i == 0 ? _firstWords[word] : _words[word];
            if (produced + piece.Tokens > length) break;
            produced += piece.Tokens;
            yield return piece;
            if (_paced && i % perTick == perTick - 1) await Task.Delay(perToken * perTick, cancellationToken);
        }
    }

    /// <summary>A piece of generated text and the tokens it is.</summary>
    private readonly record struct Piece(string Text, int Tokens);

    /// <summary>One answer's identity, and its shapes: a whole response, or the chunks of a stream.</summary>
    private sealed record Answer(string Id, long Created, string Model, string Fingerprint, bool Chat)
    {
        public object Whole(string text, string finishReason, int promptTokens, int completionTokens) => Chat
            ? new
            {
                id = Id, @object = "chat.completion", created = Created, model = Model, system_fingerprint = Fingerprint,
                choices = new[] { new { index = 0, message = new { role = "assistant", content = text }, logprobs = (object?)null, finish_reason = finishReason } },
                usage = OpenAiWire.Usage(promptTokens, completionTokens),
            }
            : new
            {
                id = Id, @object = "text_completion", created = Created, model = Model, system_fingerprint = Fingerprint,
                choices = new[] { new { index = 0, text, logprobs = (object?)null, finish_reason = finishReason } },
                usage = OpenAiWire.Usage(promptTokens, completionTokens),
            };

        public object Chunk(object delta, string? finishReason) => new
        {
            id = Id, @object = "chat.completion.chunk", created = Created, model = Model, system_fingerprint = Fingerprint,
            choices = new[] { new { index = 0, delta, logprobs = (object?)null, finish_reason = finishReason } },
        };

        public object TextChunk(string text, string? finishReason) => new
        {
            id = Id, @object = "text_completion", created = Created, model = Model, system_fingerprint = Fingerprint,
            choices = new[] { new { index = 0, text, logprobs = (object?)null, finish_reason = finishReason } },
        };

        public object UsageChunk(int promptTokens, int completionTokens) => new
        {
            id = Id, @object = Chat ? "chat.completion.chunk" : "text_completion", created = Created, model = Model, system_fingerprint = Fingerprint,
            choices = Array.Empty<object>(),
            usage = OpenAiWire.Usage(promptTokens, completionTokens),
        };
    }
}
