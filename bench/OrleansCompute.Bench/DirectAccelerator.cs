// The gateway bench's baseline: the host's SimulatedAccelerator served by a bare Kestrel endpoint in the same process,
// as a model server would serve it: no key, no lease, no metering, no middleware.
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Grains;
using OrleansCompute.Host.Gateway;

namespace OrleansCompute.Bench;

public sealed class DirectAccelerator : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DirectAccelerator(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    /// <summary>
    /// Serves <c>POST /v1/chat/completions</c> on a loopback port: the body read and validated and the prompt counted (any
    /// server must read its request and tokenize its prompt, and the simulated accelerator reports that count as its usage),
    /// then answered by an unpaced <see cref="SimulatedAccelerator"/> on a slot of <paramref name="kind"/>.
    /// </summary>
    public static async Task<DirectAccelerator> StartAsync(string kind)
    {
        var url = $"http://127.0.0.1:{LoopbackPorts.Free()}";
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(url);
        var app = builder.Build();

        var tokens = new TokenCounter();
        var accelerator = new SimulatedAccelerator(tokens, Microsoft.Extensions.Options.Options.Create(new GatewayOptions { SimulatedPacing = false }));
        var profile = AcceleratorCatalog.Require(kind);
        var concurrencyPerSlot = new MarketOptions().InferenceConcurrencyPerSlot;
        app.MapPost("/v1/chat/completions", async (HttpContext http) =>
        {
            try
            {
                var body = await OpenAiWire.ReadBodyAsync(http.Request, http.RequestAborted);
                var request = OpenAiWire.ParseChat(body);
                var promptTokens = tokens.CountPromptWithin(request, OpenAiWire.ContextWindow - request.MaxTokens)
                                   ?? throw OpenAiWire.ContextLengthExceeded(request);
                await accelerator.AnswerAsync(http, new InferenceCall(request, body, Chat: true, promptTokens, profile, concurrencyPerSlot), new UsageMeter());
                return Results.Empty;
            }
            catch (OpenAiError refused)
            {
                return refused.ToResult();
            }
        });
        await app.StartAsync();
        return new DirectAccelerator(app, url);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
