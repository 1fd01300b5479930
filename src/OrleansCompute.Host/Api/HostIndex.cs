namespace OrleansCompute.Host.Api;

/// <summary>What <c>GET /</c> answers: where everything the host serves is, so that opening its address finds them.</summary>
public sealed record HostIndex(string Name, string Offers, string OpenApi, string OpenAi, string Dashboard, string Metrics, string Health)
{
    public static HostIndex Here { get; } = new("OrleansCompute", "/api/offers", "/openapi/v1.json", "/v1", "/dashboard", "/metrics", "/healthz");
}

/// <summary>What <c>GET /healthz</c> answers: "ok", or what the host is still doing before it serves the market.</summary>
public sealed record HostHealth(string Status);
