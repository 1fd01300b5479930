namespace OrleansCompute.Abstractions.Inference;

/// <summary>One admitted request's end: what it used, and the most tokens it was admitted with (no longer held against the escrow).</summary>
[GenerateSerializer, Immutable, Alias("occ.inference-record")]
public sealed record InferenceRecord([property: Id(0)] InferenceUsage Usage, [property: Id(1)] int MostTokens);
