namespace OrleansCompute.Grains.Tests.Infrastructure;

/// <summary>
/// How many scenarios a property test samples: a few in the README's test command, which must stay fast, and as many as
/// <c>OCC_PROPERTY_ITER</c> asks for in a deeper campaign (the README's command for it).
/// </summary>
public static class PropertyRuns
{
    public const string Variable = "OCC_PROPERTY_ITER";

    public static long Or(long quick) =>
        long.TryParse(Environment.GetEnvironmentVariable(Variable), out var asked) && asked > 0 ? asked : quick;
}
