// One in-process Orleans cluster (two silos) shared by every grain test, wired as the host wires the market.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Storage.LeaseBook;

namespace OrleansCompute.Grains.Tests.Infrastructure;

public sealed class ClusterFixture : IAsyncLifetime
{
    /// <summary>Short enough that expiry is seen within a test, long enough that a test funds in time.</summary>
    public static readonly TimeSpan FundingWindow = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan SettlementConfirmTimeout = TimeSpan.FromSeconds(3);

    /// <summary>The first wait before a voucher refused for a reason that can pass is tried again; the waits double from it.</summary>
    public static readonly TimeSpan SettlementRetryDelay = TimeSpan.FromMilliseconds(300);

    public static readonly TimeSpan QuoteValidity = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Short, so that a book that lost its answer settles its fill within a test (twice this, when the fill was never
    /// booked); long enough that an ask a test sends straight to a pool arrives inside it on a slow, shared machine.
    /// </summary>
    public static readonly TimeSpan OrderFillFence = TimeSpan.FromSeconds(2);

    /// <summary>The chain the settlement grains of every silo submit to.</summary>
    public static RecordingEscrowSettlement Chain { get; } = new();

    /// <summary>The pools' lease book, one for both silos, as they would share the host's database.</summary>
    private static InProcessLeaseBook LeaseBook { get; } = new();

    public TestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.GrainFactory;

    /// <summary>The leases as the host finds them: those pools keep and those in lease grains, whether live or over.</summary>
    public OrleansCompute.Grains.Leases.LeaseDirectory Leases => new(Grains, LeaseBook);

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder();
        builder.Options.InitialSilosCount = 2;
        builder.AddSiloBuilderConfigurator<MarketSiloConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    private sealed class MarketSiloConfigurator : ISiloConfigurator
    {
        private const string MemoryStorage = "market-memory";

        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder
                .AddMemoryGrainStorage(MemoryStorage)
                .UseInMemoryReminderService()
                .AddIncomingGrainCallFilter<Faults.CallFilter>()
                .AddIncomingGrainCallFilter<Settlement.WatchFenceFilter>()
                .ConfigureServices(services =>
                {
                    // State round-trips through Orleans' binary serializer, as in the host's SQLite store (the memory
                    // store's default, JSON, cannot read every state back, and a lease deactivates once closed).
                    services.AddOptions<MemoryGrainStorageOptions>(MemoryStorage)
                        .Configure<Serializer>((options, serializer) => options.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer));
                    // The market's storage is the memory store behind a door that fails the writes a test asks to fail.
                    services.AddGrainStorage(GrainStorage.Market, (provider, _) => new Faults.Storage(provider.GetRequiredKeyedService<IGrainStorage>(MemoryStorage)));
                    services.TryAddSingleton(TimeProvider.System);
                    services.AddSingleton<IVoucherVerifier>(new VoucherSigner(TestVouchers.ChainId, TestVouchers.Escrow));
                    services.AddSingleton<IEscrowSettlement>(Chain);
                    services.AddSingleton<ILeaseBook>(LeaseBook);
                    services.Configure<MarketOptions>(options =>
                    {
                        options.FundingWindow = FundingWindow;
                        options.QuoteValidity = QuoteValidity;
                        options.OrderMatchInterval = TimeSpan.FromMilliseconds(200);
                        options.OrderFillFence = OrderFillFence;
                        options.SettlementFlushDelay = TimeSpan.FromMilliseconds(50);
                        options.SettlementRetryDelay = SettlementRetryDelay;
                        options.SettlementTimeout = TimeSpan.FromSeconds(5);
                        options.SettlementConfirmTimeout = SettlementConfirmTimeout;
                    });
                });
        }
    }
}

[CollectionDefinition(Name)]
public sealed class MarketClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "market cluster";
}
