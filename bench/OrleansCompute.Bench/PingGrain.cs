namespace OrleansCompute.Bench;

/// <summary>The baseline: a grain call that does nothing, so its rate is what Orleans itself costs on this machine.</summary>
public interface IPingGrain : IGrainWithIntegerKey
{
    Task PingAsync();
}

public sealed class PingGrain : Grain, IPingGrain
{
    public Task PingAsync() => Task.CompletedTask;
}
