using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Nethereum.JsonRpc.Client;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace OrleansCompute.Chain.Rpc;

/// <summary>
/// The Polly pipeline every RPC call of this library runs through: a bounded, jittered retry around a
/// per-attempt timeout. Only faults that mean "the node did not answer, ask again" are retried; a revert
/// or any other answer from the node is final, because retrying it would only repeat the same answer.
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
        // Inside the retry, so each attempt gets its own deadline.
        builder.AddTimeout(options.AttemptTimeout);
        return builder.Build();
    }

    /// <summary>True for faults that say nothing about the request itself: the node was unreachable, slow or busy.</summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        TimeoutRejectedException => true,
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
