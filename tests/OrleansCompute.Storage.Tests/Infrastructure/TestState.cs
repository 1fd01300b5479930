namespace OrleansCompute.Storage.Tests.Infrastructure;

/// <summary>A grain state shaped like the market's: a record the Orleans code generator serializes.</summary>
[GenerateSerializer, Alias("storage-tests.test-state")]
public sealed record TestState
{
    [Id(0)] public int Version { get; init; }
    [Id(1)] public string Owner { get; init; } = "";
    [Id(2)] public List<string> Holders { get; init; } = [];
}
