using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc.ApiExplorer;
using Microsoft.AspNetCore.Mvc.ModelBinding;

namespace OrleansCompute.Host.Api.OpenApi;

/// <summary>What an operation's endpoint metadata says about the refusals it can answer: signed or not, a body or not, route values or not.</summary>
internal sealed record OperationShape(string Path, string Method, bool Signed, bool HasBody, bool HasRouteValues, bool HasInput,
    IReadOnlyCollection<int> AlsoRefusesWith, bool ReachesCluster)
{
    public static OperationShape Of(ApiDescription description)
    {
        var metadata = description.ActionDescriptor.EndpointMetadata;
        var parameters = description.ParameterDescriptions;
        bool From(BindingSource source) => parameters.Any(p => p.Source == source);
        return new OperationShape(
            "/" + (description.RelativePath ?? "").TrimStart('/'),
            description.HttpMethod ?? "GET",
            metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any(),
            From(BindingSource.Body) || metadata.OfType<IAcceptsMetadata>().Any(),
            From(BindingSource.Path),
            From(BindingSource.Body) || From(BindingSource.Path) || From(BindingSource.Query) || From(BindingSource.Header),
            metadata.OfType<RefusesAlso>().SelectMany(r => r.Statuses).ToHashSet(),
            !metadata.OfType<AnswersWithoutTheCluster>().Any());
    }

    public bool IsApi => Path.StartsWith("/api/", StringComparison.Ordinal);

    public bool IsOpenAi => Path.StartsWith("/v1/", StringComparison.Ordinal);

    public bool IsRead => HttpMethods.IsGet(Method) || HttpMethods.IsHead(Method);
}
