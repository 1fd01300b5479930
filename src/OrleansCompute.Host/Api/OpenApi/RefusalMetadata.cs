namespace OrleansCompute.Host.Api.OpenApi;

/// <summary>Refusals an operation answers beyond the ones its shape implies (<see cref="ProblemResponses"/>): a read that can conflict, say.</summary>
public sealed record RefusesAlso(params int[] Statuses);

/// <summary>An operation that answers from the host alone, asking no grain: a silo that is gone cannot make it answer 503.</summary>
public sealed record AnswersWithoutTheCluster;

public static class RefusalMetadataExtensions
{
    /// <summary>Documents problem responses with these statuses besides the ones the operation's shape implies.</summary>
    public static TBuilder RefusesAlso<TBuilder>(this TBuilder builder, params int[] statuses) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RefusesAlso(statuses));

    /// <summary>Leaves 503 ClusterUnavailable out of the operation's document: it asks no grain.</summary>
    public static TBuilder AnswersWithoutTheCluster<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AnswersWithoutTheCluster());
}
