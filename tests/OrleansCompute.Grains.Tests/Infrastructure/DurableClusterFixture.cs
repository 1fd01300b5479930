// A market cluster of its own whose grain state and reminders live in a SQLite file, as the host keeps them, so a
// test can stop every silo and start new ones on the same file: a host restart in the middle of the market's work.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Runtime.Hosting;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Storage.Hosting;

namespace OrleansCompute.Grains.Tests.Infrastructure;

public sealed class DurableClusterFixture : IAsyncLifetime
{
    /// <summary>Short, so that a run sees reservations expire; long enough that a tenant who funds at once is in time.</summary>
    public static readonly TimeSpan FundingWindow = TimeSpan.FromSeconds(1.5);

    /// <summary>Small, so that prices climb to their ceilings and fall to their floors within a run.</summary>
    public static readonly TimeSpan PriceStepInterval = TimeSpan.FromMilliseconds(100);

    public static readonly TimeSpan OrderMatchInterval = TimeSpan.FromMilliseconds(150);

    public static readonly TimeSpan QuoteValidity = TimeSpan.FromSeconds(1);

    /// <summary>Short, so that a book that lost its answer to a restart finds its fill well within a check's patience.</summary>
    public static readonly TimeSpan OrderFillFence = TimeSpan.FromMilliseconds(300);

    /// <summary>Short, so that a test sees what the reminders a restart leaves do; a minute in the host.</summary>
    public static readonly TimeSpan SettlementReminderPeriod = TimeSpan.FromSeconds(2);

    public static readonly TimeSpan SettlementConfirmTimeout = TimeSpan.FromSeconds(3);

    /// <summary>The chain the settlement grains of every silo submit to, across restarts: a test watches it without waking a grain.</summary>
    public static RecordingEscrowSettlement Chain { get; } = new();

    private const string SqliteStore = "market-sqlite";

    private readonly string _directory = Directory.CreateTempSubdirectory("occ-durable-market-").FullName;

    public string DatabasePath => Path.Combine(_directory, "market.db");

    public InProcessTestCluster Cluster { get; private set; } = null!;

    /// <summary>The current cluster's client: ask again after <see cref="RestartAsync"/>, the old one is gone.</summary>
    public IGrainFactory Grains => Cluster.Client;

    public async Task InitializeAsync() => Cluster = await StartAsync();

    /// <summary>
    /// Stops every silo, as the host stops, and after <paramref name="downtime"/> starts a new cluster on the same database
    /// file: deadlines that fall in the downtime are met only when the new cluster wakes their grains.
    /// </summary>
    public async Task RestartAsync(TimeSpan downtime = default)
    {
        await StopAsync();
        await Task.Delay(downtime);
        Cluster = await StartAsync();
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task<InProcessTestCluster> StartAsync()
    {
        var builder = new InProcessTestClusterBuilder(initialSilosCount: 2);
        // One service across restarts, as one host's configuration names it.
        builder.Options.ServiceId = "occ-durable-market";
        var databasePath = DatabasePath;
        builder.ConfigureSilo((_, silo) => silo
            .AddSqliteGrainStorage(SqliteStore, databasePath)
            .UseSqliteReminderService(databasePath)
            .AddSqliteLeaseBook(databasePath)
            .AddIncomingGrainCallFilter<Faults.CallFilter>()
            .ConfigureServices(services =>
            {
                // The market's storage is the SQLite store behind a door that fails the writes a test asks to fail.
                services.AddGrainStorage(GrainStorage.Market, (provider, _) => new Faults.Storage(provider.GetRequiredKeyedService<IGrainStorage>(SqliteStore)));
                services.TryAddSingleton(TimeProvider.System);
                services.AddSingleton<IVoucherVerifier>(new VoucherSigner(TestVouchers.ChainId, TestVouchers.Escrow));
                services.AddSingleton<IEscrowSettlement>(Chain);
                services.Configure<ReminderOptions>(options => options.MinimumReminderPeriod = SettlementReminderPeriod);
                services.Configure<MarketOptions>(options =>
                {
                    options.FundingWindow = FundingWindow;
                    options.PriceStepInterval = PriceStepInterval;
                    options.OrderMatchInterval = OrderMatchInterval;
                    options.QuoteValidity = QuoteValidity;
                    options.OrderFillFence = OrderFillFence;
                    options.SettlementReminderPeriod = SettlementReminderPeriod;
                    options.SettlementConfirmTimeout = SettlementConfirmTimeout;
                    options.SettlementRetryDelay = TimeSpan.FromMilliseconds(300);
                });
            }));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private async Task StopAsync()
    {
        if (Cluster is null) return;
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        Cluster = null!;
    }
}

/// <summary>
/// Runs alone, after the parallel collections: its timing checks must not compete with the shared cluster for the cores,
/// and its restarts stop only its own silos.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DurableMarketCollection : ICollectionFixture<DurableClusterFixture>
{
    public const string Name = "durable market cluster";
}
