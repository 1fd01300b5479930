using Nethereum.JsonRpc.Client;
using OrleansCompute.Chain.Rpc;
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
