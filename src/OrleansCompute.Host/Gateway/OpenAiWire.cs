using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCompute.Host.Gateway;

/// <summary>One chat message as the gateway needs it: content parts of type text joined into one string.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>A completion request after validation, chat or plain; <see cref="Stop"/> holds its stop sequences (none when empty).</summary>
public sealed record CompletionRequest(string Model, string Prompt, IReadOnlyList<ChatMessage>? Messages, int MaxTokens, bool Stream, bool IncludeUsage,
    IReadOnlyList<string> Stop);

/// <summary>A request the gateway refuses, in OpenAI's error shape (<c>{"error": {message, type, param, code}}</c>).</summary>
public sealed class OpenAiError(int status, string message, string type, string? code, string? param = null) : Exception(message)
{
    public int Status { get; } = status;

    /// <summary>For a 402 that asks for a voucher: the cumulative amount to sign (credits, as a decimal string).</summary>
    public string? AmountToSign { get; init; }

    /// <summary>For a 402 that asks for a voucher: the escrow channel of the lease's signer the voucher must name.</summary>
    public uint? ChannelToSign { get; init; }

    public IResult ToResult(TimeSpan? retryAfter = null) => new OpenAiErrorResult(this, retryAfter);

    public object Body => AmountToSign is null
        ? new { error = new { message = Message, type, param, code } }
        : new { error = new { message = Message, type, param, code, amount_to_sign = AmountToSign, channel_to_sign = ChannelToSign } };

    public static OpenAiError Invalid(string message, string? param = null) => new(400, message, "invalid_request_error", "invalid_request", param);

    private sealed class OpenAiErrorResult(OpenAiError error, TimeSpan? retryAfter) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            if (retryAfter is { } wait) context.Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString();
            context.Response.StatusCode = error.Status;
            return context.Response.WriteAsJsonAsync(error.Body, OpenAiWire.Json);
        }
    }
}

/// <summary>Reading OpenAI requests and writing OpenAI responses (snake_case JSON).</summary>
public static class OpenAiWire
{
    /// <summary>The context window of the reference model class: a request's prompt and the completion it asks for together.</summary>
    public const int ContextWindow = 32_768;

    /// <summary>The most tokens one request may ask for.</summary>
    public const int MaxTokensLimit = ContextWindow;

    public const int DefaultMaxTokens = 256;

    /// <summary>As many stop sequences as OpenAI takes.</summary>
    public const int MaxStopSequences = 4;

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        // Read by programs, never embedded in HTML: an error that quotes 'messages' keeps its quotes.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool"];

    public static async Task<JsonElement> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        // As the /api routes do: a body in another media type is not read as JSON because it happens to parse.
        if (!request.HasJsonContentType())
            throw new OpenAiError(StatusCodes.Status415UnsupportedMediaType,
                $"The body is {request.ContentType ?? "of no media type"}; send it as application/json.", "invalid_request_error", "unsupported_media_type");
        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw OpenAiError.Invalid("The request body must be a JSON object.");
            return document.RootElement.Clone();
        }
        catch (JsonException malformed)
        {
            throw OpenAiError.Invalid($"The request body is not valid JSON: {malformed.Message}");
        }
    }

    public static CompletionRequest ParseChat(JsonElement body)
    {
        if (!body.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
            throw OpenAiError.Invalid("'messages' must be a non-empty array.", "messages");
        var parsed = messages.EnumerateArray().Select((m, i) => ParseMessage(m, i)).ToList();
        return Common(body, string.Join("\n", parsed.Select(m => m.Content)), parsed);
    }

    public static CompletionRequest ParseCompletion(JsonElement body)
    {
        if (!body.TryGetProperty("prompt", out var prompt)) throw OpenAiError.Invalid("'prompt' is required.", "prompt");
        // OpenAI also takes a list of prompts; the gateway answers one per request, so a list of one is that prompt.
        if (prompt.ValueKind == JsonValueKind.Array && prompt.GetArrayLength() == 1) prompt = prompt[0];
        if (prompt.ValueKind != JsonValueKind.String)
            throw OpenAiError.Invalid("'prompt' must be a string (or a list of one string): one prompt per request.", "prompt");
        return Common(body, prompt.GetString()!, null);
    }

    private static CompletionRequest Common(JsonElement body, string prompt, IReadOnlyList<ChatMessage>? messages)
    {
        if (!body.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String || model.GetString() is not { Length: > 0 } modelId)
            throw OpenAiError.Invalid("'model' is required (see GET /v1/models).", "model");
        // Both names bound the completion (max_tokens is the older one). Both are read: a server behind the gateway may
        // honour either, and the escrow is checked against the bound, so two different bounds are refused.
        int? maxTokens = null;
        foreach (var name in (string[])["max_completion_tokens", "max_tokens"])
        {
            if (!body.TryGetProperty(name, out var max) || max.ValueKind == JsonValueKind.Null) continue;
            if (max.ValueKind != JsonValueKind.Number || !max.TryGetInt32(out var bound) || bound < 1 || bound > MaxTokensLimit)
                throw OpenAiError.Invalid($"'{name}' must be an integer from 1 to {MaxTokensLimit}.", name);
            if (maxTokens is { } first && first != bound)
                throw OpenAiError.Invalid($"'max_tokens' ({bound}) and 'max_completion_tokens' ({first}) are two bounds for one completion; send one of them.", name);
            maxTokens = bound;
        }
        // The gateway answers one choice: the context-window check and the voucher threshold count on one completion.
        if (body.TryGetProperty("n", out var n) && n.ValueKind != JsonValueKind.Null && !(n.ValueKind == JsonValueKind.Number && n.TryGetInt32(out var choices) && choices == 1))
            throw OpenAiError.Invalid("'n' must be 1: the gateway answers one choice per request.", "n");
        // Sampling is the backend's, but a value OpenAI refuses is refused here too, not silently run.
        InRange(body, "temperature", 0, 2);
        InRange(body, "top_p", 0, 1);
        InRange(body, "presence_penalty", -2, 2);
        InRange(body, "frequency_penalty", -2, 2);
        var stop = StopSequences(body);
        var stream = Flag(body, "stream", "stream");
        var includeUsage = false;
        if (body.TryGetProperty("stream_options", out var options) && options.ValueKind != JsonValueKind.Null)
        {
            if (options.ValueKind != JsonValueKind.Object) throw OpenAiError.Invalid("'stream_options' must be an object.", "stream_options");
            includeUsage = Flag(options, "include_usage", "stream_options.include_usage");
        }
        return new CompletionRequest(modelId, prompt, messages, maxTokens ?? DefaultMaxTokens, stream, includeUsage, stop);
    }

    /// <summary>An optional number: absent or null passes; anything else must be a number from <paramref name="min"/> to <paramref name="max"/>.</summary>
    private static void InRange(JsonElement body, string name, double min, double max)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return;
        if (value.ValueKind != JsonValueKind.Number || value.GetDouble() is var number && (number < min || number > max))
            throw OpenAiError.Invalid($"'{name}' must be a number from {min} to {max}.", name);
    }

    /// <summary>OpenAI's <c>stop</c>: a string or a list of up to four, each not empty.</summary>
    private static IReadOnlyList<string> StopSequences(JsonElement body)
    {
        if (!body.TryGetProperty("stop", out var stop) || stop.ValueKind == JsonValueKind.Null) return [];
        var refused = OpenAiError.Invalid($"'stop' must be a string or a list of up to {MaxStopSequences} strings, none empty.", "stop");
        var sequences = stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array when stop.GetArrayLength() <= MaxStopSequences =>
                stop.EnumerateArray().Select(s => s.ValueKind == JsonValueKind.String ? s.GetString()! : throw refused).ToList(),
            _ => throw refused,
        };
        return sequences.Any(s => s.Length == 0) ? throw refused : sequences;
    }

    /// <summary>A prompt that with the completion asked for does not fit the context window, in OpenAI's words.</summary>
    public static OpenAiError ContextLengthExceeded(CompletionRequest request)
    {
        var input = request.Messages is null ? "prompt" : "messages";
        return new(StatusCodes.Status400BadRequest,
            $"This model's maximum context length is {ContextWindow} tokens. However, your {input} " +
            $"with the {request.MaxTokens} tokens of completion asked for (max_tokens) exceed it. Please reduce the length of the {input} or of the completion.",
            "invalid_request_error", "context_length_exceeded", input);
    }

    /// <summary>An optional boolean: absent or null is false; anything but true or false is refused, not read as false.</summary>
    private static bool Flag(JsonElement parent, string name, string param) =>
        !parent.TryGetProperty(name, out var flag) ? false : flag.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False or JsonValueKind.Null => false,
            _ => throw OpenAiError.Invalid($"'{param}' must be true or false.", param),
        };

    private static ChatMessage ParseMessage(JsonElement message, int index)
    {
        var param = $"messages[{index}]";
        if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String
            || role.GetString() is not { } roleName || !Roles.Contains(roleName))
            throw OpenAiError.Invalid($"{param} needs a role: one of {string.Join(", ", Roles)}.", param);
        if (!message.TryGetProperty("content", out var content)) throw OpenAiError.Invalid($"{param} has no content.", param);
        var text = content.ValueKind switch
        {
            JsonValueKind.String => content.GetString()!,
            JsonValueKind.Array => string.Concat(content.EnumerateArray().Select(part =>
                part.ValueKind == JsonValueKind.Object
                && part.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "text"
                && part.TryGetProperty("text", out var partText) && partText.ValueKind == JsonValueKind.String
                    ? partText.GetString()
                    : throw OpenAiError.Invalid($"{param}: only text content parts are served ({{\"type\": \"text\", \"text\": \"…\"}}).", param))),
            JsonValueKind.Null => "",
            _ => throw OpenAiError.Invalid($"{param}: content must be a string or an array of text parts.", param),
        };
        return new ChatMessage(roleName, text);
    }

    public static void StartEventStream(HttpContext http)
    {
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
    }

    /// <summary>One server-sent event, flushed at once so the client sees each piece as it is made.</summary>
    public static async Task SendEventAsync(HttpContext http, object chunk)
    {
        await http.Response.WriteAsync($"data: {JsonSerializer.Serialize(chunk, Json)}\n\n", http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }

    public static Task SendDoneAsync(HttpContext http) => SendRawAsync(http, "data: [DONE]\n\n");

    /// <summary>Text of the event stream as it is, flushed at once.</summary>
    public static async Task SendRawAsync(HttpContext http, string text)
    {
        await http.Response.WriteAsync(text, http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }

    public static object Usage(int promptTokens, int completionTokens) =>
        new { prompt_tokens = promptTokens, completion_tokens = completionTokens, total_tokens = promptTokens + completionTokens };
}
