using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Inference;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Grains;

namespace OrleansCompute.Host.Gateway;

/// <summary>
/// The OpenAI-compatible inference gateway: <c>/v1/models</c>, <c>/v1/chat/completions</c> (with <c>stream: true</c> as
/// server-sent events) and <c>/v1/completions</c>, authenticated by a lease's key (<c>Authorization: Bearer occ_…</c>).
/// The lease admits each request (its key, its state, its slots' concurrency) and meters what it used; a refused
/// request is answered in OpenAI's error shape and meters nothing.
/// </summary>
public static class GatewayEndpoints
{
    public static IEndpointRouteBuilder MapGatewayEndpoints(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").WithTags("Inference (OpenAI-compatible)");
        v1.MapGet("/models", ModelsAsync).WithSummary("The models a lease's key can call (the simulated accelerator's model).");
        v1.MapPost("/chat/completions", (HttpContext http, IGrainFactory grains, SimulatedAccelerator backend, TokenCounter tokens, IOptions<MarketOptions> options) =>
                CompleteAsync(http, grains, backend, tokens, options.Value, chat: true))
            .WithSummary("A chat completion on the lease's slots; stream: true answers with server-sent events.");
        v1.MapPost("/completions", (HttpContext http, IGrainFactory grains, SimulatedAccelerator backend, TokenCounter tokens, IOptions<MarketOptions> options) =>
                CompleteAsync(http, grains, backend, tokens, options.Value, chat: false))
            .WithSummary("A text completion on the lease's slots.");
        return app;
    }

    private static async Task<IResult> ModelsAsync(HttpContext http, IGrainFactory grains)
    {
        try
        {
            var (_, key) = LeaseOf(http, grains);
            var authorized = await key.Lease.AuthorizeInferenceAsync(key.ApiKey);
            if (authorized.Outcome != AdmissionOutcome.Admitted) throw Unauthorized(authorized.Message);
            var profile = AcceleratorCatalog.Require(authorized.Kind);
            return Results.Json(new
            {
                @object = "list",
                data = new[]
                {
                    new
                    {
                        id = SimulatedAccelerator.ModelId,
                        @object = "model",
                        created = 1_767_225_600L,
                        owned_by = $"orleanscompute-simulated-{profile.Kind}",
                        description = $"Simulated accelerator: deterministic filler text at the speed of a {profile.Name} " +
                                      $"({profile.TokensPerSecond} tokens/s per slot, {profile.ReferenceModel}); no model runs.",
                    },
                },
            }, OpenAiWire.Json);
        }
        catch (OpenAiError refused)
        {
            return refused.ToResult();
        }
    }

    private static async Task<IResult> CompleteAsync(HttpContext http, IGrainFactory grains, SimulatedAccelerator backend, TokenCounter tokens,
        MarketOptions options, bool chat)
    {
        CompletionRequest request;
        (Guid LeaseId, LeaseKey Key) lease;
        try
        {
            lease = LeaseOf(http, grains);
            var body = await OpenAiWire.ReadBodyAsync(http.Request, http.RequestAborted);
            request = chat ? OpenAiWire.ParseChat(body) : OpenAiWire.ParseCompletion(body);
            if (request.Model != SimulatedAccelerator.ModelId)
                throw new OpenAiError(404, $"The model '{request.Model}' does not exist on this lease; GET /v1/models lists '{SimulatedAccelerator.ModelId}'.",
                    "invalid_request_error", "model_not_found", "model");
        }
        catch (OpenAiError refused)
        {
            return refused.ToResult();
        }

        var admission = await lease.Key.Lease.AdmitInferenceAsync(lease.Key.ApiKey);
        switch (admission.Outcome)
        {
            case AdmissionOutcome.Unauthorized:
                return Unauthorized(admission.Message).ToResult();
            case AdmissionOutcome.Busy:
                return new OpenAiError(429, admission.Message ?? "The lease is at its concurrency limit.", "rate_limit_exceeded", "concurrency_limit")
                    .ToResult(admission.RetryAfter);
            case AdmissionOutcome.PaymentRequired:
                return new OpenAiError(402, admission.Message ?? "The lease's escrow is used up.", "insufficient_quota", "payment_required").ToResult();
        }

        // Admitted: from here the request is in flight on the lease, and its usage is recorded whatever happens.
        var profile = AcceleratorCatalog.Require(admission.Kind);
        var promptTokens = request.Messages is { } messages ? tokens.CountChat(messages) : tokens.Count(request.Prompt);
        var completion = new StringBuilder();
        try
        {
            var pieces = backend.GenerateAsync(profile, options.InferenceConcurrencyPerSlot, request.Prompt, promptTokens, request.MaxTokens, http.RequestAborted);
            var answer = new Answer(Id: $"{(chat ? "chatcmpl" : "cmpl")}-{Guid.NewGuid():N}", DateTimeOffset.UtcNow.ToUnixTimeSeconds(), request.Model, profile.Kind, chat);
            if (request.Stream)
            {
                await StreamAsync(http, answer, pieces, completion, request, tokens, promptTokens);
                return Results.Empty;
            }
            await foreach (var piece in pieces) completion.Append(piece);
            var completionTokens = tokens.Count(completion.ToString());
            return Results.Json(answer.Whole(completion.ToString(), FinishReason(completionTokens, request), promptTokens, completionTokens), OpenAiWire.Json);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away: what was generated for it until then is still metered below.
            return Results.Empty;
        }
        finally
        {
            await lease.Key.Lease.RecordInferenceAsync(new InferenceUsage(promptTokens, tokens.Count(completion.ToString())));
        }
    }

    private static async Task StreamAsync(HttpContext http, Answer answer, IAsyncEnumerable<string> pieces, StringBuilder completion,
        CompletionRequest request, TokenCounter tokens, int promptTokens)
    {
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        if (answer.Chat) await SendAsync(http, answer.Chunk(new { role = "assistant", content = "" }, finishReason: null));
        await foreach (var piece in pieces)
        {
            completion.Append(piece);
            await SendAsync(http, answer.Chat ? answer.Chunk(new { content = piece }, finishReason: null) : answer.TextChunk(piece, finishReason: null));
        }
        var completionTokens = tokens.Count(completion.ToString());
        var finish = FinishReason(completionTokens, request);
        await SendAsync(http, answer.Chat ? answer.Chunk(new { }, finish) : answer.TextChunk("", finish));
        if (request.IncludeUsage) await SendAsync(http, answer.UsageChunk(promptTokens, completionTokens));
        await http.Response.WriteAsync("data: [DONE]\n\n", http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }

    private static async Task SendAsync(HttpContext http, object chunk)
    {
        await http.Response.WriteAsync($"data: {JsonSerializer.Serialize(chunk, OpenAiWire.Json)}\n\n", http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }

    private static string FinishReason(int completionTokens, CompletionRequest request) => completionTokens >= request.MaxTokens ? "length" : "stop";

    private sealed record LeaseKey(ILeaseGrain Lease, string ApiKey);

    /// <summary>The lease the bearer key names; a missing or malformed key is refused before any grain is asked.</summary>
    private static (Guid, LeaseKey) LeaseOf(HttpContext http, IGrainFactory grains)
    {
        var header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
            throw Unauthorized("Send the lease's key as 'Authorization: Bearer occ_…' (occ lease key ID).");
        var apiKey = header["Bearer ".Length..].Trim();
        if (!LeaseApiKeys.TryParseLeaseId(apiKey, out var leaseId)) throw Unauthorized("This is not a lease key.");
        return (leaseId, new LeaseKey(grains.GetGrain<ILeaseGrain>(leaseId), apiKey));
    }

    private static OpenAiError Unauthorized(string? message) =>
        new(401, message ?? "The key is not valid for an active lease.", "invalid_request_error", "invalid_api_key");

    /// <summary>One answer's identity, and its shapes: a whole response, or the chunks of a stream.</summary>
    private sealed record Answer(string Id, long Created, string Model, string Kind, bool Chat)
    {
        private string Fingerprint => $"occ-simulated-{Kind}";

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
