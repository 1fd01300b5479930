namespace OrleansCompute.Grains;

/// <summary>The name of the grain storage provider the market's state lives in.</summary>
public static class GrainStorage
{
    public const string Market = "market";
}
