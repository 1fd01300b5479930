using Xunit;

namespace OrleansCompute.Integration.Tests.Infrastructure;

/// <summary>Waits for what the host learns asynchronously (chain events, deadlines) by polling, with a deadline.</summary>
public static class Eventually
{
    public static async Task<T> WaitForAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var value = await read();
            if (done(value)) return value;
            Assert.True(DateTime.UtcNow < deadline, $"still {value} after {limit}");
            await Task.Delay(100);
        }
    }
}
