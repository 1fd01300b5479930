using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OrleansCompute.Chain.Devnet;

namespace OrleansCompute.Integration.Tests.Infrastructure;

/// <summary>
/// A minimal OpenAI-compatible server on loopback, standing in for vLLM behind a pool: <c>/usage/v1/…</c> reports
/// usage like vLLM does, <c>/nousage/v1/…</c> leaves it out. Streams come in pieces <see cref="PieceDelay"/> apart.
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    public const string Model = "upstream-llama-3.1-8b";
    public const string ApiKey = "upstream-secret";
    public static readonly string[] Pieces = ["Hello", " from", " the", " upstream"];
    public static readonly TimeSpan PieceDelay = TimeSpan.FromMilliseconds(150);
    public const int ReportedPromptTokens = 11;

    /// <summary>A user message that makes the server refuse the host's key, as it would with a key it no longer takes.</summary>
    public const string RefuseTheHost = "fake-upstream: refuse the host's key";

    /// <summary>A user message that makes the server answer 200 with text that is not a completion.</summary>
    public const string AnswerNotJson = "fake-upstream: answer with no JSON";

    /// <summary>A user message that makes the server stream its first piece, then an event that is not JSON.</summary>
    public const string StreamGarbage = "fake-upstream: stream an event that is not JSON";

    /// <summary>
    /// A user message that makes the server stream its first piece, then drop the connection once <see cref="Cut"/> is
    /// released (by a test that has read that piece: a connection reset also drops what is still unsent).
    /// </summary>
    public const string CutTheStream = "fake-upstream: cut the stream off";

    public SemaphoreSlim Cut { get; } = new(0);

    /// <summary>A user message that makes the server take the request and never answer, until the caller goes away.</summary>
    public const string Hang = "fake-upstream: never answer";

    /// <summary>A user message that makes the server fail with 500 and an OpenAI-style error body, as a crashing vLLM does.</summary>
    public const string Fail = "fake-upstream: fail with 500";

    /// <summary>A user message that makes the server refuse with 429, <c>Retry-After: 7</c> and OpenAI's rate-limit error, as vLLM behind a limiter does.</summary>
    public const string RateLimited = "fake-upstream: answer 429";

    /// <summary>Hung requests whose caller went away (the gateway gave up on them, or its client did).</summary>
    public SemaphoreSlim HangsEnded { get; } = new(0);

    private readonly WebApplication _app;

    /// <summary>Every request it received: its path, Authorization header and JSON body.</summary>
    public ConcurrentQueue<(string Path, string? Authorization, JsonElement Body)> Received { get; } = new();

    public string Url { get; }

    private FakeUpstream(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public static async Task<FakeUpstream> StartAsync()
    {
        var url = $"http://127.0.0.1:{LoopbackPorts.Free()}";
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var upstream = new FakeUpstream(app, url);
        app.MapPost("/{mode}/v1/chat/completions", upstream.ChatAsync);
        await app.StartAsync();
        return upstream;
    }

    private async Task ChatAsync(string mode, HttpContext http)
    {
        using var document = await JsonDocument.ParseAsync(http.Request.Body);
        var body = document.RootElement.Clone();
        Received.Enqueue((http.Request.Path, http.Request.Headers.Authorization.ToString(), body));
        if (http.Request.Headers.Authorization != $"Bearer {ApiKey}")
        {
            http.Response.StatusCode = 401;
            await http.Response.WriteAsJsonAsync(new { error = new { message = "bad upstream key", type = "invalid_request_error", code = "invalid_api_key" } });
            return;
        }
        // A test makes the server misbehave by what it asks.
        var asked = body.TryGetProperty("messages", out var messages) ? messages[0].GetProperty("content").GetString() : null;
        if (asked == RefuseTheHost)
        {
            http.Response.StatusCode = 401;
            await http.Response.WriteAsJsonAsync(new { error = new { message = "Incorrect API key provided", type = "invalid_request_error", code = "invalid_api_key" } });
            return;
        }
        if (asked == Hang)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, http.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                HangsEnded.Release();
            }
            return;
        }
        if (asked == Fail)
        {
            http.Response.StatusCode = 500;
            await http.Response.WriteAsJsonAsync(new { error = new { message = "CUDA out of memory", type = "server_error", code = (string?)null } });
            return;
        }
        if (asked == RateLimited)
        {
            http.Response.StatusCode = 429;
            http.Response.Headers.RetryAfter = "7";
            await http.Response.WriteAsJsonAsync(new { error = new { message = "Rate limit reached for requests", type = "requests", param = (string?)null, code = "rate_limit_exceeded" } });
            return;
        }
        if (asked == AnswerNotJson)
        {
            await http.Response.WriteAsync("upstream hiccup");
            return;
        }
        if (asked == CutTheStream && !(body.TryGetProperty("stream", out var streamed) && streamed.ValueKind == JsonValueKind.True))
        {
            // Half an answer, then the connection goes.
            http.Response.ContentLength = 1_000;
            await http.Response.WriteAsync("{\"id\": \"up-1\", \"choices\": [");
            await http.Response.Body.FlushAsync();
            await Task.Delay(PieceDelay);
            http.Abort();
            return;
        }
        var reportsUsage = mode == "usage";
        var usage = new { prompt_tokens = ReportedPromptTokens, completion_tokens = Pieces.Length, total_tokens = ReportedPromptTokens + Pieces.Length };

        if (!(body.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True))
        {
            object whole = reportsUsage
                ? new { id = "up-1", @object = "chat.completion", model = Model, choices = new[] { Choice() }, usage }
                : new { id = "up-1", @object = "chat.completion", model = Model, choices = new[] { Choice() } };
            await http.Response.WriteAsJsonAsync(whole);
            return;
        }

        http.Response.ContentType = "text/event-stream";
        if (asked is StreamGarbage or CutTheStream)
        {
            await SendAsync(http, new { id = "up-1", @object = "chat.completion.chunk", model = Model,
                choices = new[] { new { index = 0, delta = new { content = Pieces[0] }, finish_reason = (string?)null } } });
            if (asked == CutTheStream)
            {
                await Cut.WaitAsync(TimeSpan.FromSeconds(30));
                http.Abort();
                return;
            }
            await http.Response.WriteAsync("data: {\"id\": \"up-1\", \"choi\n\n");
            await http.Response.Body.FlushAsync();
            await http.Response.WriteAsync("data: [DONE]\n\n");
            return;
        }
        foreach (var piece in Pieces)
        {
            await SendAsync(http, new { id = "up-1", @object = "chat.completion.chunk", model = Model,
                choices = new[] { new { index = 0, delta = new { content = piece }, finish_reason = (string?)null } } });
            await Task.Delay(PieceDelay);
        }
        await SendAsync(http, new { id = "up-1", @object = "chat.completion.chunk", model = Model,
            choices = new[] { new { index = 0, delta = new { content = (string?)null }, finish_reason = (string?)"stop" } } });
        var includeUsage = body.TryGetProperty("stream_options", out var options) && options.TryGetProperty("include_usage", out var include) && include.GetBoolean();
        if (reportsUsage && includeUsage)
            await SendAsync(http, new { id = "up-1", @object = "chat.completion.chunk", model = Model, choices = Array.Empty<object>(), usage });
        await http.Response.WriteAsync("data: [DONE]\n\n");
    }

    private static object Choice() =>
        new { index = 0, message = new { role = "assistant", content = string.Concat(Pieces) }, finish_reason = "stop" };

    private static async Task SendAsync(HttpContext http, object chunk)
    {
        await http.Response.WriteAsync($"data: {JsonSerializer.Serialize(chunk)}\n\n");
        await http.Response.Body.FlushAsync();
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
