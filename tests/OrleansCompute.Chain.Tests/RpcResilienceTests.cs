using Nethereum.JsonRpc.Client;
using OrleansCompute.Chain.Rpc;
using Polly.CircuitBreaker;
using Polly.Timeout;
using Xunit;

namespace OrleansCompute.Chain.Tests;

public sealed class RpcResilienceTests
{
    private static readonly RpcResilienceOptions Fast = new()
    {
        AttemptTimeout = TimeSpan.FromMilliseconds(200),
        MaxRetryAttempts = 2,
        BaseDelay = TimeSpan.FromMilliseconds(1),
        MaxDelay = TimeSpan.FromMilliseconds(5),
    };

    [Fact]
    public async Task A_transient_fault_is_retried_until_the_call_succeeds()
    {
        var pipeline = RpcResilience.CreatePipeline(Fast);
        var attempts = 0;

        var result = await pipeline.ExecuteAsync(_ =>
        {
            if (++attempts < 3) throw new RpcClientUnknownException("down", new HttpRequestException("connection refused"));
            return ValueTask.FromResult(42);
        });

        Assert.Equal(42, result);
        Assert.Equal(3, attempts);
    }

    [Fact]
    public async Task A_node_that_keeps_failing_opens_the_circuit_so_calls_fail_at_once_and_a_probe_closes_it_when_the_node_answers()
    {
        var options = Fast with { MaxRetryAttempts = 0, CircuitMinimumThroughput = 4, BreakDuration = TimeSpan.FromMilliseconds(500) };
        var pipeline = RpcResilience.CreatePipeline(options);
        var reached = 0;
        var nodeUp = false;
        ValueTask<int> Call(CancellationToken _)
        {
            reached++;
            return nodeUp ? ValueTask.FromResult(7) : throw new RpcClientUnknownException("down", new HttpRequestException("connection refused"));
        }

        // The breaker opens once enough calls in its window have failed (at least 4 here, at least half of them).
        var opened = false;
        for (var i = 0; i < 20 && !opened; i++)
        {
            try
            {
                await pipeline.ExecuteAsync(Call);
            }
            catch (BrokenCircuitException)
            {
                opened = true;
            }
            catch (RpcClientUnknownException)
            {
            }
        }
        var reachedWhenOpened = reached;
        var whileOpen = await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(Call));
        var reachedWhileOpen = reached;
        nodeUp = true;
        await Task.Delay(options.BreakDuration + TimeSpan.FromMilliseconds(100));
        var afterBreak = await pipeline.ExecuteAsync(Call);

        Assert.True(opened);
        Assert.InRange(reachedWhenOpened, 4, 19);
        Assert.Equal(reachedWhenOpened, reachedWhileOpen);
        Assert.True(RpcResilience.IsTransient(whileOpen));
        Assert.Equal(7, afterBreak);
        Assert.Equal(7, await pipeline.ExecuteAsync(Call));
    }

    [Fact]
    public async Task A_revert_is_never_retried()
    {
        var pipeline = RpcResilience.CreatePipeline(Fast);
        var attempts = 0;

        await Assert.ThrowsAsync<RpcResponseException>(async () => await pipeline.ExecuteAsync<int>(_ =>
        {
            attempts++;
            throw new RpcResponseException(new RpcError(3, "execution reverted: custom error 0x1234", "0x12345678"));
        }));

        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task A_hung_call_times_out_per_attempt_and_gives_up_after_the_retries()
    {
        var rpc = new ChainRpc(new Nethereum.Web3.Web3(), RpcResilience.CreatePipeline(Fast));
        var attempts = 0;

        await Assert.ThrowsAsync<TimeoutRejectedException>(() => rpc.CallAsync<int>(_ =>
        {
            attempts++;
            return new TaskCompletionSource<int>().Task;
        }));

        Assert.Equal(Fast.MaxRetryAttempts + 1, attempts);
    }

    [Theory]
    [InlineData(-32005, "limit exceeded", true)]
    [InlineData(-32000, "header not found", true)]
    [InlineData(-32000, "nonce too low", false)]
    [InlineData(3, "execution reverted", false)]
    [InlineData(-32000, "execution reverted: timeout", false)]
    public void Only_rpc_errors_that_mean_try_again_are_transient(int code, string message, bool transient)
    {
        Assert.Equal(transient, RpcResilience.IsTransient(new RpcResponseException(new RpcError(code, message))));
    }
}
