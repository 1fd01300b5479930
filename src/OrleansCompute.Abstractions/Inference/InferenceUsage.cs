namespace OrleansCompute.Abstractions.Inference;

/// <summary>Tokens one inference request used, as the backend reported them or the gateway counted them.</summary>
[GenerateSerializer, Immutable, Alias("occ.inference-usage")]
public sealed record InferenceUsage([property: Id(0)] int PromptTokens, [property: Id(1)] int CompletionTokens)
{
    public int TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>What a lease's inference has used so far: requests answered and their tokens.</summary>
[GenerateSerializer, Immutable, Alias("occ.lease-usage")]
public sealed record LeaseUsage(
    [property: Id(0)] long Requests,
    [property: Id(1)] long PromptTokens,
    [property: Id(2)] long CompletionTokens)
{
    public static readonly LeaseUsage None = new(0, 0, 0);

    public long TotalTokens => PromptTokens + CompletionTokens;

    public LeaseUsage Add(InferenceUsage usage) =>
        new(Requests + 1, PromptTokens + usage.PromptTokens, CompletionTokens + usage.CompletionTokens);
}
