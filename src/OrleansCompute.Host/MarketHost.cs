using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Orleans.Dashboard;
using OrleansCompute.Abstractions;
using OrleansCompute.Chain;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Grains;
using OrleansCompute.Grains.Leases;
using OrleansCompute.Grains.Market;
using OrleansCompute.Host.Api;
using OrleansCompute.Host.Audit;
using OrleansCompute.Host.Auth;
using OrleansCompute.Host.Chain;
using OrleansCompute.Host.Devnet;
using OrleansCompute.Host.Gateway;
using OrleansCompute.Storage.Hosting;

namespace OrleansCompute.Host;

/// <summary>
/// The host: one process with the Orleans silo, the HTTP API, the dashboard and the chain watcher.
/// Configuration sections: <c>Chain</c> (<see cref="ChainOptions"/>), <c>Market</c> (<see cref="MarketOptions"/>),
/// <c>Orleans</c> (SiloPort, GatewayPort), <c>Storage</c> (Path of the SQLite file), <c>Devnet</c> (SeedDemo).
/// </summary>
public static class MarketHost
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        var config = builder.Configuration;

        var chain = config.GetSection("Chain").Get<ChainOptions>()
            ?? throw new InvalidOperationException("The host needs a Chain section: RpcUrl, ChainId, CreditAddress, EscrowAddress, OperatorPrivateKey.");
        builder.Services.Configure<MarketOptions>(config.GetSection("Market"));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddEscrowChain(chain);
        builder.Services.AddSingleton<IEscrowEventCursor, GrainEscrowEventCursor>();
        builder.Services.AddEscrowEventWatcher<GrainEscrowEventSink>();
        builder.Services.AddSingleton<MarketAudit>();
        builder.Services.AddSingleton<LeaseDirectory>();
        builder.Services.AddSingleton<LeaseRouter>();

        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(
                siloPort: config.GetValue("Orleans:SiloPort", 11111),
                gatewayPort: config.GetValue("Orleans:GatewayPort", 30000));
            // Grain state, reminders and the lease book live in one SQLite file when Storage:Path is set (the devnet's .devnet/market.db);
            // without it they live in memory and are gone when the host stops.
            if (config["Storage:Path"] is { Length: > 0 } storePath)
            {
                silo.AddSqliteGrainStorage(GrainStorage.Market, storePath);
                silo.UseSqliteReminderService(storePath);
                silo.AddSqliteLeaseBook(storePath);
            }
            else
            {
                silo.AddInProcessGrainStorage(GrainStorage.Market);
                silo.AddInProcessLeaseBook();
                silo.UseInMemoryReminderService();
            }
            silo.AddDashboard();
        });

        if (config.GetValue("Devnet:SeedDemo", false)) builder.Services.AddHostedService<DemoMarket>();

        builder.Services.AddSingleton<TokenCounter>();
        builder.Services.AddSingleton<SimulatedAccelerator>();
        builder.Services.Configure<GatewayOptions>(config.GetSection("Gateway"));
        builder.Services.AddSingleton<InferenceBackends>();
        // Upstream calls get retries with backoff on transient failures, per-attempt timeouts and a circuit breaker; a
        // stream's body is read after SendAsync returns, so the timeouts bound the wait for its first bytes, not its length.
        builder.Services.AddHttpClient(UpstreamBackend.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .AddStandardResilienceHandler(resilience =>
            {
                resilience.AttemptTimeout.Timeout = TimeSpan.FromSeconds(60);
                resilience.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(180);
                resilience.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(120);
            });
        // /metrics in Prometheus' format: the market's counters, Orleans' (grain calls, activations, messaging) and ASP.NET Core's.
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("orleanscompute-host"))
            .WithMetrics(metrics => metrics
            .AddMeter(MarketMetrics.MeterName, "Microsoft.Orleans", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Runtime")
            .AddPrometheusExporter());
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<MarketExceptionHandler>();
        builder.Services.AddOpenApi();
        builder.Services.AddAuthentication(TenantSignatureAuthentication.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, TenantSignatureAuthentication>(TenantSignatureAuthentication.SchemeName, null);
        builder.Services.AddAuthorization();
        builder.Services.ConfigureHttpJsonOptions(json => ApiJson.Configure(json.SerializerOptions));

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();

        app.MapOpenApi();
        app.MapGet("/healthz", () => Results.Ok(new { status = "ok" })).WithTags("Host");
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapOfferEndpoints();
        app.MapLeaseEndpoints();
        app.MapOrderEndpoints();
        app.MapProviderEndpoints();
        app.MapInspectEndpoints();
        app.MapChainEndpoints();
        app.MapGatewayEndpoints();
        // The dashboard has no authentication of its own: the devnet host listens on loopback only.
        app.MapOrleansDashboard(routePrefix: "/dashboard");
        return app;
    }
}
