// One in-process silo configured like the host's (MarketHost), with the market's store chosen per run.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Storage;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Grains;
using OrleansCompute.Grains.Settlement;
using OrleansCompute.Storage.Hosting;
using OrleansCompute.Storage.LeaseBook;

namespace OrleansCompute.Bench;

public enum MarketStore { Memory, Sqlite }

public static class BenchSilo
{
    public const long ChainId = 31337;
    public const string EscrowAddress = "0x00000000000000000000000000000000000e5c70";

    /// <summary>Ports away from the devnet host's defaults (11111, 30000), so a bench can run beside it.</summary>
    private const int SiloPort = 21111, GatewayPort = 40000;

    /// <param name="profile">Counts every grain call and every storage operation (see <see cref="CallProfile"/>); off for measured runs.</param>
    /// <param name="settlement">The settlement grains' port to the chain; none for the market scenarios, which settle nothing.</param>
    public static IHost Build(MarketStore store, string dataDirectory, CallProfile? profile = null, IEscrowSettlement? settlement = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        // The grains log each lease transition at Information; the bench measures the grains, not the console.
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IVoucherVerifier>(new VoucherSigner(ChainId, EscrowAddress));
        if (settlement is null) builder.Services.AddSingleton<IEscrowSettlement, ReserveOnlySettlement>();
        else builder.Services.AddSingleton(settlement);
        // The bench silo runs no chain watcher, so no lease ever sees its payment and no submitted voucher is ever
        // confirmed: with the default timeout (60 s) each repetition's vouchers would be sent again (and skipped by the
        // escrow as paid) in a later repetition's window, adding batches and gas that are not its own.
        builder.Services.Configure<MarketOptions>(options => options.SettlementConfirmTimeout = TimeSpan.FromHours(1));

        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(SiloPort, GatewayPort);
            // As the host: every grain call passes the chain watch's fence (a context lookup when it carries none).
            silo.AddIncomingGrainCallFilter<WatchFenceFilter>();
            AddReminders(silo, store, dataDirectory);
            AddLeaseBook(silo, store, dataDirectory, profile);
            if (profile is null)
            {
                AddStore(silo, store, GrainStorage.Market, dataDirectory);
            }
            else
            {
                const string inner = GrainStorage.Market + "-counted";
                AddStore(silo, store, inner, dataDirectory);
                silo.Services.AddKeyedSingleton<IGrainStorage>(GrainStorage.Market,
                    (services, _) => new CountingGrainStorage(services.GetRequiredKeyedService<IGrainStorage>(inner), profile,
                        services.GetRequiredService<Orleans.Serialization.Serializer>()));
                silo.AddIncomingGrainCallFilter(profile);
            }
        });
        return builder.Build();
    }

    /// <summary>The pools' lease book beside the grain state: in memory, or in the same SQLite file; counted when profiling.</summary>
    private static void AddLeaseBook(ISiloBuilder silo, MarketStore store, string dataDirectory, CallProfile? profile)
    {
        if (profile is not null)
        {
            silo.Services.AddSingleton<ILeaseBook>(services =>
                new CountingLeaseBook(new InProcessLeaseBook(), profile, services.GetRequiredService<Orleans.Serialization.Serializer>()));
        }
        else if (store == MarketStore.Sqlite) silo.AddSqliteLeaseBook(DatabasePath(dataDirectory));
        else silo.AddInProcessLeaseBook();
    }

    private static void AddStore(ISiloBuilder silo, MarketStore store, string name, string dataDirectory)
    {
        switch (store)
        {
            case MarketStore.Memory:
                silo.AddInProcessGrainStorage(name);
                break;
            case MarketStore.Sqlite:
                silo.AddSqliteGrainStorage(name, DatabasePath(dataDirectory));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(store), store, null);
        }
    }

    /// <summary>A durable market keeps its reminders where its grain state is: with SQLite, in the same file and transactions.</summary>
    private static void AddReminders(ISiloBuilder silo, MarketStore store, string dataDirectory)
    {
        if (store == MarketStore.Sqlite)
        {
            silo.UseSqliteReminderService(DatabasePath(dataDirectory));
            return;
        }
        silo.UseInMemoryReminderService();
    }

    private static string DatabasePath(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        return Path.Combine(dataDirectory, "market.db");
    }

    /// <summary>Settlement is not on the reserve path; a call here means the bench measured something else.</summary>
    private sealed class ReserveOnlySettlement : IEscrowSettlement
    {
        public Task<SettlementReceipt> SettleBatchAsync(IReadOnlyList<SignedVoucher> vouchers, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("The market bench reserves and cancels only; nothing is settled.");
    }
}
