using Microsoft.AspNetCore.Diagnostics;

namespace OrleansCompute.Host.Api;

/// <summary>A request needed the chain's answer (a tenant's funds) and the node did not give it, after the RPC pipeline's retries.</summary>
public sealed class ChainUnavailableException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// <see cref="ChainUnavailableException"/> becomes 503 with <c>Retry-After</c>: the node is down or failing, which the RPC
/// pipeline's circuit breaker rides out, and the same request succeeds once it answers again. Nothing was changed.
/// </summary>
public sealed class ChainUnavailableHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public const int RetryAfterSeconds = 5;

    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not ChainUnavailableException unavailable) return false;
        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString();
        return await problems.WriteAsync(context, exception, StatusCodes.Status503ServiceUnavailable, "ChainUnavailable",
            $"{unavailable.Message} Nothing was changed; retry in {RetryAfterSeconds} s.");
    }
}
