using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansCompute.Abstractions.Catalog;

namespace OrleansCompute.Host.Gateway;

/// <summary>
/// A real OpenAI-compatible server behind a pool (vLLM, llama.cpp server, Ollama, …): the request is forwarded as the
/// client sent it, the answer relayed as it arrives (a stream stays a stream), and usage taken from the server's
/// <c>usage</c> when it reports it, otherwise counted. The HTTP client carries Microsoft.Extensions.Http.Resilience.
/// </summary>
public sealed class UpstreamBackend(UpstreamOptions upstream, HttpClient http, TokenCounter tokens) : IInferenceBackend
{
    public const string HttpClientName = "upstream";

    public string ModelId => upstream.Model;

    public string OwnedBy(AcceleratorProfile profile) => $"upstream-{upstream.Pool}";

    public async Task AnswerAsync(HttpContext context, InferenceCall call, UsageMeter meter)
    {
        var request = call.Request;
        var body = JsonNode.Parse(call.Body.GetRawText())!.AsObject();
        // The gateway bounds every completion (by its default when the request names no bound), and the context-window
        // check and the voucher threshold count on that bound: the upstream gets it too, not a default of its own.
        if (!body.ContainsKey("max_tokens") && !body.ContainsKey("max_completion_tokens")) body["max_tokens"] = request.MaxTokens;
        // Ask a streaming server for usage in its last chunk: otherwise only counting could meter the answer.
        if (request.Stream) body["stream_options"] = new JsonObject { ["include_usage"] = true };

        using var forward = new HttpRequestMessage(HttpMethod.Post, $"{upstream.Url.TrimEnd('/')}/{(call.Chat ? "chat/completions" : "completions")}")
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        if (upstream.ApiKey is { Length: > 0 } key) forward.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(forward, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutException or Polly.Timeout.TimeoutRejectedException
                                       or Polly.CircuitBreaker.BrokenCircuitException
                                   || (e is OperationCanceledException && !context.RequestAborted.IsCancellationRequested))
        {
            // Nothing came back: nothing is metered (neither when the client gave up waiting, which ends here too).
            throw Failed($"The pool's inference server did not answer: {e.Message}", "upstream_unavailable");
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                // The server refused: nothing ran, nothing is metered; its error is passed on as it is (or wrapped).
                await RelayErrorAsync(context, response);
                return;
            }
            // The server took the request: the gateway's count, so a request cut short from here still meters its prompt;
            // replaced by the server's figure when it gives one.
            meter.PromptTokens = call.PromptTokens;
            if (request.Stream) await RelayStreamAsync(context, response, meter, request.IncludeUsage);
            else await RelayWholeAsync(context, response, meter, call.Chat);
        }
    }

    private async Task RelayWholeAsync(HttpContext context, HttpResponseMessage response, UsageMeter meter, bool chat)
    {
        byte[] raw;
        try
        {
            raw = await response.Content.ReadAsByteArrayAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is IOException or HttpRequestException && !context.RequestAborted.IsCancellationRequested)
        {
            // Cut off before the answer was whole: the client gets nothing it can use, so nothing is metered.
            meter.PromptTokens = 0;
            throw Failed($"The pool's inference server broke off its answer: {e.Message}");
        }
        using var document = ParsedAnswer(raw, meter);
        var root = document.RootElement;
        if (!ReadUsage(root, meter))
            meter.CompletionTokens = root.GetProperty("choices").EnumerateArray().Sum(c => tokens.Count(chat ? MessageText(c) : TextOf(c, "text")));
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(raw, context.RequestAborted);
    }

    /// <summary>
    /// The server's answer when it is one (a JSON object with choices). Anything else is the server's fault, not an answer
    /// the client can use: 502, and nothing is metered for it.
    /// </summary>
    private static JsonDocument ParsedAnswer(byte[] raw, UsageMeter meter)
    {
        try
        {
            var document = JsonDocument.Parse(raw);
            if (document.RootElement is { ValueKind: JsonValueKind.Object } root
                && root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
                return document;
            document.Dispose();
        }
        catch (JsonException)
        {
        }
        meter.PromptTokens = 0;
        var text = Encoding.UTF8.GetString(raw, 0, Math.Min(raw.Length, 200));
        throw Failed($"The pool's inference server answered with something that is not a completion: {text}");
    }

    /// <summary>
    /// Relays the server's events as they come. The server is always asked for usage (to meter it); its usage chunk, which
    /// has no choices, reaches only a client that asked for it, as OpenAI sends it: other clients may not expect a chunk
    /// without choices. A stream the server breaks off, or an event of it that is not JSON, ends the client's stream with
    /// an error event, as OpenAI ends a stream that fails (its SDKs raise it as an API error); what was relayed until
    /// then is metered.
    /// </summary>
    private async Task RelayStreamAsync(HttpContext context, HttpResponseMessage response, UsageMeter meter, bool clientAskedForUsage)
    {
        OpenAiWire.StartEventStream(context);
        var reported = false;
        var dropping = false;
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(context.RequestAborted));
        while (true)
        {
            string? line;
            try
            {
                line = await reader.ReadLineAsync(context.RequestAborted);
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !context.RequestAborted.IsCancellationRequested)
            {
                await SendStreamErrorAsync(context, $"The pool's inference server broke off the stream: {e.Message}");
                return;
            }
            if (line is null) break;
            if (line.Length == 0)
            {
                // An empty line ends an event: the one being dropped, or one to send now.
                if (dropping) dropping = false;
                else await OpenAiWire.SendRawAsync(context, "\n");
                continue;
            }
            if (dropping) continue;
            var data = line.StartsWith("data:", StringComparison.Ordinal) ? line["data:".Length..].Trim() : null;
            if (data is null || data == "[DONE]")
            {
                await context.Response.WriteAsync(line + "\n", context.RequestAborted);
                continue;
            }
            using var chunk = ParsedChunk(data);
            if (chunk is null)
            {
                await SendStreamErrorAsync(context, $"The pool's inference server sent a stream event that is not JSON: {data[..Math.Min(data.Length, 200)]}");
                return;
            }
            var hasUsage = ReadUsage(chunk.RootElement, meter);
            reported |= hasUsage;
            dropping = hasUsage && !clientAskedForUsage && HasNoChoices(chunk.RootElement);
            if (!dropping) await context.Response.WriteAsync(line + "\n", context.RequestAborted);
            if (!reported && chunk.RootElement.TryGetProperty("choices", out var choices))
            {
                foreach (var choice in choices.EnumerateArray())
                {
                    var piece = choice.TryGetProperty("delta", out var delta) ? TextOf(delta, "content") : TextOf(choice, "text");
                    meter.CompletionTokens += tokens.Count(piece);
                }
            }
        }
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    /// <summary>The server failed the request: 502, an error of the pool's server, not of the tenant's request.</summary>
    private static OpenAiError Failed(string message, string code = "upstream_error") => new(502, message, "api_error", code);

    private static JsonDocument? ParsedChunk(string data)
    {
        try
        {
            return JsonDocument.Parse(data);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The last event of a stream that failed once begun: its status is sent already, so the error goes in an event.</summary>
    private static Task SendStreamErrorAsync(HttpContext context, string message) =>
        OpenAiWire.SendEventAsync(context, Failed(message).Body);

    private static async Task RelayErrorAsync(HttpContext context, HttpResponseMessage response)
    {
        var raw = await response.Content.ReadAsStringAsync(context.RequestAborted);
        var isOpenAiError = false;
        try
        {
            using var document = JsonDocument.Parse(raw);
            isOpenAiError = document.RootElement.TryGetProperty("error", out _);
        }
        catch (JsonException)
        {
        }
        // The server refusing the host's own key is the host's fault, not the tenant's: passed on, a 401 or 403 would tell
        // the tenant's client that the lease key is wrong. A server failing (5xx) is the pool's fault as well: 502, as for
        // any upstream failure. What is left, a refusal of the request itself (400, 404, 422, 429), is the tenant's to read.
        var refusedTheHost = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden;
        if (!isOpenAiError || refusedTheHost || (int)response.StatusCode >= 500)
            throw Failed($"The pool's inference server answered {(int)response.StatusCode}: {raw[..Math.Min(raw.Length, 200)]}");
        if (response.Headers.RetryAfter is { } retryAfter) context.Response.Headers.RetryAfter = retryAfter.ToString();
        context.Response.StatusCode = (int)response.StatusCode;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(raw, context.RequestAborted);
    }

    /// <summary>The server's own count, when the payload has a <c>usage</c> object: it is what the server ran.</summary>
    private static bool ReadUsage(JsonElement payload, UsageMeter meter)
    {
        if (!payload.TryGetProperty("usage", out var usage) || usage.ValueKind != JsonValueKind.Object) return false;
        meter.PromptTokens = Count(usage, "prompt_tokens") ?? meter.PromptTokens;
        meter.CompletionTokens = Count(usage, "completion_tokens") ?? meter.CompletionTokens;
        return true;
    }

    private static int? Count(JsonElement usage, string name) =>
        usage.TryGetProperty(name, out var count) && count.ValueKind == JsonValueKind.Number && count.TryGetInt32(out var tokens) && tokens >= 0 ? tokens : null;

    private static bool HasNoChoices(JsonElement chunk) =>
        !chunk.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0;

    private static string MessageText(JsonElement choice) => choice.TryGetProperty("message", out var message) ? TextOf(message, "content") : "";

    private static string TextOf(JsonElement element, string name) =>
        element.TryGetProperty(name, out var text) && text.ValueKind == JsonValueKind.String ? text.GetString()! : "";
}
