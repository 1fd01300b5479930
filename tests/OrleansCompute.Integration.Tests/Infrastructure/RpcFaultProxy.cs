using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OrleansCompute.Chain.Devnet;

namespace OrleansCompute.Integration.Tests.Infrastructure;

/// <summary>What the proxy does to each JSON-RPC request while it is in that mode.</summary>
public enum RpcFault
{
    /// <summary>Forwards it to the node.</summary>
    None,
    /// <summary>Answers 503 without asking the node.</summary>
    Errors,
    /// <summary>Drops the connection without an answer.</summary>
    Drops,
    /// <summary>Forwards it after <see cref="RpcFaultProxy.Delay"/>.</summary>
    Slow,
}

/// <summary>
/// A loopback HTTP proxy in front of Anvil that every chain client of the market goes through, so a test can make the
/// node slow, drop requests or answer errors, or swap the node behind it (Anvil restarted from its state file).
/// </summary>
public sealed class RpcFaultProxy : IAsyncDisposable
{
    private static readonly HttpClient Forwarder = new() { Timeout = Timeout.InfiniteTimeSpan };
    private readonly WebApplication _app;
    private volatile string _target;
    private volatile RpcFault _fault;
    private long _faulted;
    private TaskCompletionSource? _sendSeen;

    private RpcFaultProxy(WebApplication app, string url, string target)
    {
        _app = app;
        Url = url;
        _target = target;
    }

    public string Url { get; }

    /// <summary>The node requests go to; set it to a restarted node's address.</summary>
    public string Target
    {
        get => _target;
        set => _target = value;
    }

    public RpcFault Fault
    {
        get => _fault;
        set => _fault = value;
    }

    public TimeSpan Delay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Requests the proxy did not forward as asked (errors, drops, delays) since it started.</summary>
    public long Faulted => Interlocked.Read(ref _faulted);

    /// <summary>
    /// Completes when the proxy next receives a transaction to send (<c>eth_sendRawTransaction</c>), as it receives it: before
    /// the fault of the moment applies and before the node sees it. A test acts then to hit a send in flight.
    /// </summary>
    public Task NextSendAsync()
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _sendSeen = seen;
        return seen.Task;
    }

    public static async Task<RpcFaultProxy> StartAsync(string target)
    {
        var url = $"http://127.0.0.1:{LoopbackPorts.Free()}";
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var proxy = new RpcFaultProxy(app, url, target);
        app.MapPost("/", proxy.ForwardAsync);
        await app.StartAsync();
        return proxy;
    }

    private async Task ForwardAsync(HttpContext http)
    {
        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body, http.RequestAborted);
        if (_sendSeen is { } seen && System.Text.Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)body.Length).Contains("\"eth_sendRawTransaction\"", StringComparison.Ordinal))
        {
            _sendSeen = null;
            seen.TrySetResult();
        }

        var fault = _fault;
        if (fault != RpcFault.None) Interlocked.Increment(ref _faulted);
        switch (fault)
        {
            case RpcFault.Errors:
                http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                await http.Response.WriteAsync("node unavailable (fault injected by the test)");
                return;
            case RpcFault.Drops:
                http.Abort();
                return;
            case RpcFault.Slow:
                await Task.Delay(Delay, http.RequestAborted);
                break;
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, _target) { Content = new ByteArrayContent(body.ToArray()) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        try
        {
            using var response = await Forwarder.SendAsync(request, http.RequestAborted);
            http.Response.StatusCode = (int)response.StatusCode;
            http.Response.ContentType = "application/json";
            await response.Content.CopyToAsync(http.Response.Body, http.RequestAborted);
        }
        catch (HttpRequestException)
        {
            // The node itself is down (stopped for a restart): the client sees what it would see without the proxy.
            http.Abort();
        }
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
