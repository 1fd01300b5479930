using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace OrleansCompute.Cli.Api;

/// <summary>The gateway's 402: the lease must be paid before it goes on, by a voucher for <see cref="AmountToSign"/> or a top-up.</summary>
public sealed class PaymentRequiredException(string code, string message, string? amountToSign) : Exception(message)
{
    public string Code { get; } = code;
    public string? AmountToSign { get; } = amountToSign;
}

/// <summary>What one streamed completion produced: its text and the usage the gateway reported.</summary>
public sealed record InferenceAnswer(string Text, string? FinishReason, int PromptTokens, int CompletionTokens);

/// <summary>Calls a lease's OpenAI-compatible endpoint (<c>/v1/chat/completions</c>) and streams the answer as it arrives.</summary>
public sealed class InferenceClient(HttpClient http)
{
    /// <summary>The model the lease's key can call, the first GET /v1/models lists.</summary>
    public async Task<string> ServedModelAsync(string apiKey, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode) throw await ErrorAsync(response, ct);
        using var models = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        return models.RootElement.GetProperty("data")[0].GetProperty("id").GetString()!;
    }

    public async Task<InferenceAnswer> ChatAsync(string apiKey, string model, string prompt, int maxTokens, Action<string> onText, CancellationToken ct)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            model,
            messages = new[] { new { role = "user", content = prompt } },
            max_tokens = maxTokens,
            stream = true,
            stream_options = new { include_usage = true },
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode) throw await ErrorAsync(response, ct);

        var text = new StringBuilder();
        string? finish = null;
        int promptTokens = 0, completionTokens = 0;
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            var data = line["data: ".Length..];
            if (data == "[DONE]") break;
            using var chunk = JsonDocument.Parse(data);
            if (chunk.RootElement.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                promptTokens = usage.GetProperty("prompt_tokens").GetInt32();
                completionTokens = usage.GetProperty("completion_tokens").GetInt32();
            }
            foreach (var choice in chunk.RootElement.GetProperty("choices").EnumerateArray())
            {
                if (choice.TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 } piece)
                {
                    text.Append(piece);
                    onText(piece);
                }
                if (choice.TryGetProperty("finish_reason", out var reason) && reason.ValueKind == JsonValueKind.String) finish = reason.GetString();
            }
        }
        return new InferenceAnswer(text.ToString(), finish, promptTokens, completionTokens);
    }

    private static async Task<Exception> ErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var raw = await response.Content.ReadAsStringAsync(ct);
        try
        {
            using var document = JsonDocument.Parse(raw);
            var error = document.RootElement.GetProperty("error");
            var code = error.TryGetProperty("code", out var c) ? c.GetString() : null;
            if (response.StatusCode == System.Net.HttpStatusCode.PaymentRequired)
                return new PaymentRequiredException(code ?? "payment_required", error.GetProperty("message").GetString()!,
                    error.TryGetProperty("amount_to_sign", out var amount) ? amount.GetString() : null);
            var retry = response.Headers.RetryAfter?.Delta is { } wait ? $" (retry after {wait.TotalSeconds:0} s)" : "";
            return new ApiException((int)response.StatusCode, code ?? "InferenceRefused", error.GetProperty("message").GetString() + retry, null, null);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return new ApiException((int)response.StatusCode, "InferenceRefused", $"The gateway answered {(int)response.StatusCode}: {raw}", null, null);
        }
    }
}
