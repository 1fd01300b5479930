using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Nethereum.JsonRpc.Client;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace OrleansCompute.Chain.Rpc;

/// <summary>
/// The Polly pipeline every RPC call of this library runs through: a bounded, jittered retry around a circuit
/// breaker around a per-attempt timeout. Only faults that mean "the node did not answer, ask again" are retried
/// or counted by the breaker; a revert or any other answer from the node is final, because retrying it would only
/// repeat the same answer. While the node is down the breaker is open: calls fail at once (callers such as the
/// settlement grain keep their work queued and try later) instead of each waiting out its timeouts, and after
/// <see cref="RpcResilienceOptions.BreakDuration"/> one call probes the node and closes the breaker when it answers.
/// </summary>
public static class RpcResilience
{
    public static ResiliencePipeline CreatePipeline(RpcResilienceOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = new ResiliencePipelineBuilder();
        if (options.MaxRetryAttempts > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsTransient),
                MaxRetryAttempts = options.MaxRetryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.BaseDelay,
                MaxDelay = options.MaxDelay,
                OnRetry = args =>
                {
                    logger?.LogWarning(args.Outcome.Exception,
                        "RPC call failed transiently (attempt {Attempt}); retrying in {Delay}",
                        args.AttemptNumber + 1, args.RetryDelay);
                    return default;
                },
            });
        }
        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not BrokenCircuitException && IsTransient(e)),
            FailureRatio = 0.5,
            MinimumThroughput = options.CircuitMinimumThroughput,
            SamplingDuration = options.CircuitSamplingDuration,
            BreakDuration = options.BreakDuration,
            OnOpened = args =>
            {
                logger?.LogWarning(args.Outcome.Exception, "The chain node is failing; RPC calls paused for {Duration}", args.BreakDuration);
                return default;
            },
            OnClosed = _ =>
            {
                logger?.LogInformation("The chain node answers again; RPC calls resumed");
                return default;
            },
        });
        // Innermost, so each attempt gets its own deadline.
        builder.AddTimeout(options.AttemptTimeout);
        return builder.Build();
    }

    /// <summary>True for faults that say nothing about the request itself: the node was unreachable, slow or busy.</summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        TimeoutRejectedException => true,
        BrokenCircuitException => true,
        RpcClientTimeoutException => true,
        HttpRequestException => true,
        SocketException => true,
        IOException => true,
        RpcResponseException response => IsRetryableRpcError(response.RpcError),
        // Nethereum wraps transport failures (connection refused, reset) in this one type.
        RpcClientUnknownException unknown => unknown.InnerException is { } inner && IsTransient(inner),
        _ => false,
    };

    private static bool IsRetryableRpcError(RpcError error)
    {
        var message = error.Message ?? string.Empty;
        if (message.Contains("revert", StringComparison.OrdinalIgnoreCase)) return false;
        // -32005: "limit exceeded" (EIP-1474); 429: rate limited by a gateway.
        if (error.Code is -32005 or 429) return true;
        string[] tryAgain = ["rate limit", "too many requests", "try again", "temporarily unavailable", "timeout", "timed out", "header not found", "busy"];
        return tryAgain.Any(phrase => message.Contains(phrase, StringComparison.OrdinalIgnoreCase));
    }
}
