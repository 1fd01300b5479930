using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Host.Api;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// What a caller gets when a silo of the cluster is gone and a request reaches one of its grains (the devnet test kills
/// a host and sees it end): 503 with Retry-After, as a problem document on the API and as an OpenAI error on /v1.
/// </summary>
public sealed class ClusterUnavailableTests
{
    [Fact]
    public async Task A_call_to_a_silo_that_is_gone_is_a_503_problem_with_retry_after()
    {
        var (handled, context, body) = await HandleAsync("/api/leases",
            new AggregateException(new SiloUnavailableException("Unable to connect to S127.0.0.1:11111:1")));

        Assert.True(handled);
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        Assert.Equal("5", context.Response.Headers.RetryAfter.ToString());
        Assert.Equal("ClusterUnavailable", body.GetProperty("reason").GetString());
        Assert.Equal(503, body.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task On_the_inference_routes_it_is_an_openai_error_that_openai_clients_retry()
    {
        var (handled, context, body) = await HandleAsync("/v1/chat/completions", new SiloUnavailableException());

        Assert.True(handled);
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        Assert.Equal("5", context.Response.Headers.RetryAfter.ToString());
        Assert.Equal("cluster_unavailable", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Other_failures_are_left_to_the_next_handler()
    {
        var (handled, context, _) = await HandleAsync("/api/leases", new InvalidOperationException("a bug"), readBody: false);

        Assert.False(handled);
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
    }

    private static async Task<(bool Handled, HttpContext Context, JsonElement Body)> HandleAsync(string path, Exception exception, bool readBody = true)
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Path = path;
        context.Response.Body = new MemoryStream();
        var handler = new ClusterUnavailableHandler(services.GetRequiredService<Microsoft.AspNetCore.Http.IProblemDetailsService>());

        var handled = await handler.TryHandleAsync(context, exception, CancellationToken.None);
        if (!readBody) return (handled, context, default);
        context.Response.Body.Position = 0;
        return (handled, context, (await JsonDocument.ParseAsync(context.Response.Body)).RootElement);
    }
}
