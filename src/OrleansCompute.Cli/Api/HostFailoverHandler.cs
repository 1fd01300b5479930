using System.Net;

namespace OrleansCompute.Cli.Api;

/// <summary>None of the hosts a command may use accepted a connection.</summary>
public sealed class HostsUnreachableException(IReadOnlyList<Uri> hosts, HttpRequestException last)
    : HttpRequestException(HttpRequestError.ConnectionError,
        $"No host answers at {string.Join(" or ", hosts.Select(h => h.GetLeftPart(UriPartial.Authority)))}: {last.Message}", last)
{
    public IReadOnlyList<Uri> Hosts { get; } = hosts;
}

/// <summary>
/// Lets a command ride out a host of the cluster going away. A host that refuses the connection never saw the request,
/// so the next host of the same cluster takes it, whatever its method, and the command's later requests go there first.
/// A read answered 503 with <c>Retry-After</c> (a silo is gone and the cluster has not yet moved its grains) is sent
/// again after the wait, within <see cref="RetryBudget"/>; a write is not, as it may have taken effect before the silo
/// went: its 503 reaches the user, who decides.
/// </summary>
public sealed class HostFailoverHandler : DelegatingHandler
{
    private readonly IReadOnlyList<Uri> _hosts;
    private readonly Action<string> _notice;
    private readonly TimeProvider _clock;
    private int _current;

    public HostFailoverHandler(IReadOnlyList<Uri> hosts, Action<string> notice, TimeProvider? clock = null)
        : base(new SocketsHttpHandler())
    {
        if (hosts.Count == 0) throw new ArgumentException("At least one host is needed.", nameof(hosts));
        _hosts = hosts;
        _notice = notice;
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>How long one attempt at one host may take.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a read keeps waiting out 503s: the cluster declares a lost silo dead within seconds.</summary>
    public TimeSpan RetryBudget { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The host the command talks to now: the first that answered.</summary>
    public Uri CurrentHost => _hosts[_current];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        var pathAndQuery = request.RequestUri!.IsAbsoluteUri ? request.RequestUri.PathAndQuery : request.RequestUri.OriginalString;
        var giveUpAt = _clock.GetUtcNow() + RetryBudget;
        var refused = 0;
        while (true)
        {
            var host = _hosts[_current];
            request.RequestUri = new Uri(host, pathAndQuery);
            HttpResponseMessage response;
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attempt.CancelAfter(AttemptTimeout);
                response = await base.SendAsync(request, attempt.Token);
            }
            catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConnectionError)
            {
                if (++refused == _hosts.Count) throw new HostsUnreachableException(_hosts, e);
                _current = (_current + 1) % _hosts.Count;
                _notice($"{host.GetLeftPart(UriPartial.Authority)} does not answer; trying {CurrentHost.GetLeftPart(UriPartial.Authority)}.");
                continue;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"{host.GetLeftPart(UriPartial.Authority)} did not answer {request.Method} {pathAndQuery} within {AttemptTimeout.TotalSeconds:0} s.");
            }

            if (response.StatusCode != HttpStatusCode.ServiceUnavailable || !IsRead(request.Method)
                || response.Headers.RetryAfter?.Delta is not { } wait || _clock.GetUtcNow() + wait > giveUpAt)
                return response;
            response.Dispose();
            _notice($"The cluster is moving the grains of a host that went away; {request.Method} {pathAndQuery} again in {wait.TotalSeconds:0} s.");
            await Task.Delay(wait, _clock, ct);
            refused = 0;
        }
    }

    private static bool IsRead(HttpMethod method) => method == HttpMethod.Get || method == HttpMethod.Head;
}
