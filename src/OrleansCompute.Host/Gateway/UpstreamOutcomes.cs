using System.Net;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace OrleansCompute.Host.Gateway;

/// <summary>What counts as an upstream failing, for the retries and the circuit breaker of its HTTP client.</summary>
public static class UpstreamOutcomes
{
    /// <summary>
    /// No answer, a 408, or a 5xx. Not a 429, which <see cref="HttpClientResiliencePredicates.IsTransient"/> also counts:
    /// the upstream refused this request for now, and says when to come back; that is the tenant's answer, not a fault.
    /// </summary>
    public static bool IsFailure(Outcome<HttpResponseMessage> outcome) =>
        outcome.Result?.StatusCode != HttpStatusCode.TooManyRequests && HttpClientResiliencePredicates.IsTransient(outcome);
}
