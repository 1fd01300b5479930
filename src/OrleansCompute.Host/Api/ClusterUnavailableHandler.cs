using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Orleans.Runtime;

namespace OrleansCompute.Host.Api;

/// <summary>
/// A grain call that failed because a silo of the cluster is gone (stopped or died, and not yet declared dead) becomes
/// 503 with <c>Retry-After</c>: within seconds the cluster notices and activates the grain on a silo that is up, so the
/// same request then succeeds. Nothing was changed by the failed call's request but what its grains had done before.
/// </summary>
public sealed class ClusterUnavailableHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public const int RetryAfterSeconds = 5;

    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsSiloUnreachable(exception)) return false;
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString();
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status503ServiceUnavailable,
            Title = "ClusterUnavailable",
            Detail = $"A silo of the cluster cannot be reached (a host stopped or died); the cluster moves its grains to the hosts that are up within seconds. Retry in {RetryAfterSeconds} s.",
        };
        problem.Extensions["reason"] = "ClusterUnavailable";
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem, Exception = exception });
    }

    private static bool IsSiloUnreachable(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is SiloUnavailableException or OrleansMessageRejectionException) return true;
        }
        return false;
    }
}
