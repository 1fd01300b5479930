// The gateway bench's load generator: one HttpClient over loopback HTTP/1.1 sending the same chat completion request to
// an endpoint (the gateway with a lease's key, or the bare accelerator), checking every answer.
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace OrleansCompute.Bench;

/// <summary>Where requests go: a chat completions URL, and the lease keys to send (one per lease; none for the bare accelerator).</summary>
public sealed class LoadTarget(string name, Uri url, IReadOnlyList<string?> keys)
{
    private long _answered;

    public string Name => name;
    public Uri Url => url;
    public IReadOnlyList<string?> Keys => keys;

    /// <summary>Requests answered with a completion so far, warm-ups included: what the leases must have metered.</summary>
    public long Answered => Interlocked.Read(ref _answered);

    internal void CountAnswer() => Interlocked.Increment(ref _answered);
}

/// <summary>One closed-loop throughput window: answers received in it, its length, and the process's CPU over it.</summary>
public sealed record ThroughputRun(long Requests, double Seconds, double CpuSeconds)
{
    public double PerSecond => Requests / Seconds;
    public double CpuMicrosecondsPerRequest => CpuSeconds * 1e6 / Requests;
}

public sealed class HttpLoad(byte[] body) : IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    private readonly HttpClient _client = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        MaxConnectionsPerServer = int.MaxValue,
        UseProxy = false,
    });

    private long _failures;
    private string? _firstFailure;

    /// <summary>Answers that were not 200 with a completion and its usage: the bench fails if there is any.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    public string? FirstFailure => _firstFailure;

    /// <summary>Sends one request (with the key of lease <paramref name="lane"/> modulo the target's), checks the answer, and returns the answer's body.</summary>
    public async Task<JsonDocument?> SendAsync(LoadTarget target, int lane)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, target.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = Json;
        if (target.Keys[lane % target.Keys.Count] is { } key) request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {key}");
        using var response = await _client.SendAsync(request);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        JsonDocument? answer = null;
        try
        {
            answer = JsonDocument.Parse(bytes);
            if (response.StatusCode == HttpStatusCode.OK
                && answer.RootElement.TryGetProperty("usage", out var usage) && usage.TryGetProperty("total_tokens", out var total) && total.GetInt32() > 0
                && answer.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString() is { Length: > 0 })
            {
                target.CountAnswer();
                return answer;
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException)
        {
        }
        answer?.Dispose();
        if (Interlocked.Increment(ref _failures) == 1)
            _firstFailure = $"{target.Name}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(bytes)}";
        return null;
    }

    /// <summary>One request at a time: each request's latency, in stopwatch ticks.</summary>
    public async Task SequentialAsync(LoadTarget target, int count, List<long> latencies)
    {
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            (await SendAsync(target, i))?.Dispose();
            latencies.Add(Stopwatch.GetTimestamp() - start);
        }
    }

    /// <summary>
    /// <paramref name="concurrency"/> closed loops (each sends again once answered), loop i always with lease i's key
    /// modulo the leases, so no lease has more in flight than its share; answers are counted from the end of
    /// <paramref name="warmup"/> for <paramref name="duration"/>.
    /// </summary>
    public async Task<ThroughputRun> ClosedLoopsAsync(LoadTarget target, int concurrency, TimeSpan warmup, TimeSpan duration)
    {
        long counted = 0;
        var measuring = false;
        var stop = false;
        var loops = Enumerable.Range(0, concurrency).Select(lane => Task.Run(async () =>
        {
            while (!Volatile.Read(ref stop))
            {
                (await SendAsync(target, lane))?.Dispose();
                if (Volatile.Read(ref measuring)) Interlocked.Increment(ref counted);
            }
        })).ToList();

        await Task.Delay(warmup);
        var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var start = Stopwatch.GetTimestamp();
        Volatile.Write(ref measuring, true);
        await Task.Delay(duration);
        Volatile.Write(ref measuring, false);
        var requests = Interlocked.Read(ref counted);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        Volatile.Write(ref stop, true);
        await Task.WhenAll(loops);
        return new ThroughputRun(requests, seconds, cpu);
    }

    public void Dispose() => _client.Dispose();
}
