using Microsoft.AspNetCore.Diagnostics;
using OrleansCompute.Host.Gateway;

namespace OrleansCompute.Host.Api;

/// <summary>
/// A grain call that failed because a silo of the cluster is gone (stopped or died, and not yet declared dead) becomes
/// 503 with <c>Retry-After</c>: within seconds the cluster notices and activates the grain on a silo that is up, so the
/// same request then succeeds. The OpenAI-compatible routes answer in OpenAI's error shape.
/// </summary>
public sealed class ClusterUnavailableHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public const int RetryAfterSeconds = 5;

    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsSiloUnreachable(exception)) return false;
        var detail = $"A silo of the cluster cannot be reached (a host stopped or died); the cluster moves its grains to the hosts that are up within seconds. Retry in {RetryAfterSeconds} s.";
        if (context.Request.Path.StartsWithSegments("/v1"))
        {
            // OpenAI clients read their own error shape, and retry a 503 after its Retry-After by themselves.
            await new OpenAiError(StatusCodes.Status503ServiceUnavailable, detail, "server_error", "cluster_unavailable")
                .ToResult(TimeSpan.FromSeconds(RetryAfterSeconds)).ExecuteAsync(context);
            return true;
        }
        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString();
        return await problems.WriteAsync(context, exception, StatusCodes.Status503ServiceUnavailable, "ClusterUnavailable", detail);
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
