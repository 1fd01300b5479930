using System.Net;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;
using OrleansCompute.Abstractions;
using OrleansCompute.Chain;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Grains;
using OrleansCompute.Grains.Leases;
using OrleansCompute.Grains.Market;
using OrleansCompute.Grains.Settlement;
using OrleansCompute.Host.Api;
using OrleansCompute.Host.Api.OpenApi;
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
/// <c>Gateway</c> (<see cref="GatewayOptions"/>), <c>Orleans</c> (SiloPort, GatewayPort, and ClusterId and AdvertisedAddress
/// to join a cluster), <c>Storage</c> (Path of the SQLite file), <c>Devnet</c> (SeedDemo).
/// </summary>
/// <remarks>
/// Alone, the silo clusters with itself (<c>UseLocalhostClustering</c>). With <c>Orleans:ClusterId</c> and a SQLite file it
/// joins every host started with the same id and file: membership, grain state, reminders and the lease book are shared
/// through the file, each host has its own HTTP, silo and gateway ports and its own operator key (it pays gas for the
/// settlements its silo sends), and one host at a time reads the chain (<see cref="GrainEscrowEventCursor"/>).
/// </remarks>
public static class MarketHost
{
    /// <summary>Orleans' service id, the same for every cluster of this market: it names the market, the cluster id one run of its hosts.</summary>
    public const string ServiceId = "orleanscompute";

    /// <summary>The SQLite file a host keeps the market in when <c>Storage:Path</c> is not set.</summary>
    public const string StorePathDefault = "market.db";

    /// <summary><c>Storage:Path</c> that keeps the market in the host's memory instead (tests, benchmarks).</summary>
    public const string StoreInMemory = ":memory:";

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        var config = builder.Configuration;

        var chain = config.GetSection("Chain").Get<ChainOptions>()
            ?? throw new InvalidOperationException("The host needs a Chain section: RpcUrl, ChainId, CreditAddress, EscrowAddress, OperatorPrivateKey.");
        builder.Services.Configure<MarketOptions>(config.GetSection("Market"));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddEscrowChain(chain);
        builder.Services.AddSingleton<GrainEscrowEventCursor>();
        builder.Services.AddSingleton<IEscrowEventCursor>(sp => sp.GetRequiredService<GrainEscrowEventCursor>());
        builder.Services.AddSingleton<IEscrowWatchLease>(sp => sp.GetRequiredService<GrainEscrowEventCursor>());
        builder.Services.AddSingleton<MarketAudit>();
        builder.Services.AddSingleton<LeaseDirectory>();
        builder.Services.AddSingleton<LeaseRouter>();

        builder.UseOrleans(silo =>
        {
            var (siloPort, gatewayPort) = (config.GetValue("Orleans:SiloPort", 11111), config.GetValue("Orleans:GatewayPort", 30000));
            // Storage:Path is the SQLite file (market.db in the working directory unless set; the devnet sets .devnet/market.db).
            // Only ":memory:", SQLite's own name for no file, keeps the market in this process: one silo, gone when it stops.
            var storePath = config["Storage:Path"] switch
            {
                null or "" => StorePathDefault,
                StoreInMemory => null,
                var path => path,
            };
            if (config["Orleans:ClusterId"] is { Length: > 0 } clusterId)
            {
                if (storePath is null) throw new InvalidOperationException($"Orleans:ClusterId needs a Storage:Path file, not {StoreInMemory}: the hosts of a cluster meet in it.");
                silo.Configure<Orleans.Configuration.ClusterOptions>(cluster => (cluster.ClusterId, cluster.ServiceId) = (clusterId, ServiceId));
                silo.Configure<Orleans.Configuration.EndpointOptions>(endpoints =>
                {
                    endpoints.AdvertisedIPAddress = IPAddress.Parse(config["Orleans:AdvertisedAddress"] ?? "127.0.0.1");
                    (endpoints.SiloPort, endpoints.GatewayPort) = (siloPort, gatewayPort);
                });
                silo.UseSqliteClustering(storePath);
            }
            else
            {
                silo.UseLocalhostClustering(siloPort, gatewayPort);
            }
            // Grain state, reminders and the lease book live in one SQLite file; in memory only when asked for.
            if (storePath is not null)
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
            // Chain events from a host whose watch term has passed are refused by the grains they reach.
            silo.AddIncomingGrainCallFilter<WatchFenceFilter>();
        });
        // After the silo: hosted services start in order and stop in reverse, so the watcher delivers to a running silo
        // and, stopping first, hands its watch to another host while the silo can still say so.
        builder.Services.AddEscrowEventWatcher<GrainEscrowEventSink>();

        var seedDemo = config.GetValue("Devnet:SeedDemo", false);
        builder.Services.AddSingleton(new DemoMarketSeeding(seedDemo));
        if (seedDemo) builder.Services.AddHostedService<DemoMarket>();

        builder.Services.AddSingleton<TokenCounter>();
        builder.Services.AddSingleton<SimulatedAccelerator>();
        builder.Services.Configure<GatewayOptions>(config.GetSection("Gateway"));
        builder.Services.AddSingleton<InferenceBackends>();
        builder.Services.AddSingleton<LeasePools>();
        builder.Services.AddSingleton<LeaseMeters>();
        // Upstream calls get retries with backoff on transient failures, a timeout and a circuit breaker; a stream's body
        // is read after SendAsync returns, so the timeout bounds the wait for its first bytes, not its length.
        builder.Services.AddHttpClient(UpstreamBackend.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .AddStandardResilienceHandler().Configure((resilience, services) =>
            {
                var upstreamTimeout = services.GetRequiredService<IOptions<GatewayOptions>>().Value.UpstreamTimeout;
                resilience.AttemptTimeout.Timeout = upstreamTimeout;
                // Room for the quick retries below after an attempt that failed at once, not for a second full wait.
                resilience.TotalRequestTimeout.Timeout = upstreamTimeout + TimeSpan.FromSeconds(10);
                resilience.CircuitBreaker.SamplingDuration = upstreamTimeout * 2;
                // A tenant waits on these: two more tries, half a second apart and then a second, not the 2-4-8 s default.
                resilience.Retry.MaxRetryAttempts = 2;
                resilience.Retry.Delay = TimeSpan.FromMilliseconds(500);
                // Sent again only when it cannot have run (no connection, the server overloaded or failing at once, a 408: the
                // server gave up reading the request): a request that timed out may still be running, and a second run would
                // cost the provider twice and the tenant the wait. A 429 is the upstream refusing this request for now: it goes
                // back to the tenant at once with its Retry-After, whose wait is the tenant's to choose, and is no failure of
                // the upstream, so it does not count toward opening the breaker for every lease of the pool either.
                resilience.Retry.ShouldHandle = attempt => ValueTask.FromResult(
                    attempt.Outcome.Exception is not Polly.Timeout.TimeoutRejectedException && UpstreamOutcomes.IsFailure(attempt.Outcome));
                resilience.CircuitBreaker.ShouldHandle = attempt => ValueTask.FromResult(UpstreamOutcomes.IsFailure(attempt.Outcome));
            });
        // /metrics in Prometheus' format: the market's counters, Orleans' (grain calls, activations, messaging) and ASP.NET Core's.
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("orleanscompute-host"))
            .WithMetrics(metrics => metrics
            .AddMeter(MarketMetrics.MeterName, "Microsoft.Orleans", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Runtime")
            .AddPrometheusExporter());
        builder.Services.AddProblemDetails(problems => problems.CustomizeProblemDetails = BadRequestHandler.NameReason);
        builder.Services.AddExceptionHandler<MarketExceptionHandler>();
        builder.Services.AddExceptionHandler<ClusterUnavailableHandler>();
        builder.Services.AddExceptionHandler<ChainUnavailableHandler>();
        // Binding failures throw to BadRequestHandler instead of answering a bare 400 with no field or reason.
        builder.Services.AddExceptionHandler<BadRequestHandler>();
        builder.Services.Configure<RouteHandlerOptions>(routes => routes.ThrowOnBadRequest = true);
        builder.Services.AddOpenApi(MarketOpenApi.Configure);
        builder.Services.AddAuthentication(TenantSignatureAuthentication.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, TenantSignatureAuthentication>(TenantSignatureAuthentication.SchemeName, null);
        builder.Services.AddAuthorization();
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            ApiJson.Configure(json.SerializerOptions);
            // A body that leaves out a field its record's constructor requires is refused naming the field (BadRequestHandler),
            // instead of binding 0 or null and being refused for the wrong reason ("hours must be 1 to 720; got 0").
            json.SerializerOptions.RespectRequiredConstructorParameters = true;
        });

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();

        app.MapOpenApi();
        // Someone who opens the host's address finds where everything is, instead of a 404.
        app.MapGet("/", () => HostIndex.Here).WithTags("Host")
            .WithSummary("Where the host's API, OpenAPI document, OpenAI-compatible gateway and dashboard are.");
        app.MapGet("/healthz", (DemoMarketSeeding seeding) => seeding.Pending
                ? Results.Json(new HostHealth("seeding the demo pools"), statusCode: StatusCodes.Status503ServiceUnavailable)
                : Results.Ok(new HostHealth("ok")))
            .Produces<HostHealth>().Produces<HostHealth>(StatusCodes.Status503ServiceUnavailable)
            .WithTags("Host").WithSummary("ok once the host serves the market; 503 while the devnet's demo pools are still being seeded.");
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
