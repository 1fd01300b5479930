// Wires the SQLite store into a silo. Grain storage, reminders, the lease book and cluster membership given the same
// path share one database, and with it one writer whose transactions commit them all.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using OrleansCompute.Storage.Database;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Storage.Clustering;
using OrleansCompute.Storage.GrainStorage;
using OrleansCompute.Storage.LeaseBook;
using OrleansCompute.Storage.Reminders;

namespace OrleansCompute.Storage.Hosting;

public static class SiloBuilderExtensions
{
    /// <summary>
    /// Adds grain storage <paramref name="name"/>, kept in the SQLite file at <paramref name="databasePath"/>
    /// (created when missing). State is serialized with Orleans' binary serializer, so every
    /// <c>[GenerateSerializer]</c> type works unchanged; register a keyed <see cref="IGrainStorageSerializer"/>
    /// under <paramref name="name"/> to use another.
    /// </summary>
    public static ISiloBuilder AddSqliteGrainStorage(this ISiloBuilder builder, string name, string databasePath)
    {
        var database = AddDatabase(builder.Services, databasePath);
        builder.Services.AddGrainStorage(name, (services, providerName) => new SqliteGrainStorage(
            providerName,
            services.GetRequiredKeyedService<SqliteDatabase>(database),
            services.GetKeyedService<IGrainStorageSerializer>(providerName)
                ?? new OrleansGrainStorageSerializer(services.GetRequiredService<Serializer>()),
            services.GetRequiredService<IActivatorProvider>()));
        return builder;
    }

    /// <summary>
    /// Adds grain storage <paramref name="name"/> kept in this process's memory, serialized with Orleans' binary
    /// serializer. Only for a single silo: each silo has its own. Orleans' memory storage keeps state in grains
    /// (a grain call per read and write) and serializes it as JSON, which cost most of a reservation's CPU in the bench.
    /// </summary>
    public static ISiloBuilder AddInProcessGrainStorage(this ISiloBuilder builder, string name)
    {
        builder.Services.AddGrainStorage(name, (services, providerName) => new InProcessGrainStorage(
            services.GetKeyedService<IGrainStorageSerializer>(providerName)
                ?? new OrleansGrainStorageSerializer(services.GetRequiredService<Serializer>()),
            services.GetRequiredService<IActivatorProvider>()));
        return builder;
    }

    /// <summary>Keeps the silo's reminders in the SQLite file at <paramref name="databasePath"/> (created when missing).</summary>
    public static ISiloBuilder UseSqliteReminderService(this ISiloBuilder builder, string databasePath)
    {
        var database = AddDatabase(builder.Services, databasePath);
        builder.AddReminders();
        builder.Services.AddSingleton<IReminderTable>(services =>
            new SqliteReminderTable(services.GetRequiredKeyedService<SqliteDatabase>(database)));
        return builder;
    }

    /// <summary>Keeps the pools' lease book (<see cref="ILeaseBook"/>) in the SQLite file at <paramref name="databasePath"/>.</summary>
    public static ISiloBuilder AddSqliteLeaseBook(this ISiloBuilder builder, string databasePath)
    {
        var database = AddDatabase(builder.Services, databasePath);
        builder.Services.AddSingleton<ILeaseBook>(services =>
            new SqliteLeaseBook(services.GetRequiredKeyedService<SqliteDatabase>(database), services.GetRequiredService<Serializer<BookedLease>>()));
        return builder;
    }

    /// <summary>Keeps the pools' lease book in this process's memory: only for a single silo, which has its own.</summary>
    public static ISiloBuilder AddInProcessLeaseBook(this ISiloBuilder builder)
    {
        builder.Services.AddSingleton<ILeaseBook, InProcessLeaseBook>();
        return builder;
    }

    /// <summary>
    /// Keeps the silo's cluster membership in the SQLite file at <paramref name="databasePath"/> (created when
    /// missing): silos of any process on this machine that use the same file and <see cref="ClusterOptions.ClusterId"/>
    /// form one cluster. The caller configures <see cref="ClusterOptions"/> and <see cref="EndpointOptions"/>, each
    /// silo with ports of its own.
    /// </summary>
    public static ISiloBuilder UseSqliteClustering(this ISiloBuilder builder, string databasePath)
    {
        var database = AddDatabase(builder.Services, databasePath);
        builder.Services.AddSingleton<IMembershipTable>(services => new SqliteMembershipTable(
            services.GetRequiredKeyedService<SqliteDatabase>(database),
            services.GetRequiredService<Serializer<MembershipEntry>>(),
            services.GetRequiredService<IOptions<ClusterOptions>>()));
        return builder;
    }

    /// <summary>One <see cref="SqliteDatabase"/> per file, opened on first use and closed with the silo's services.</summary>
    private static DatabaseKey AddDatabase(IServiceCollection services, string databasePath)
    {
        var key = new DatabaseKey(Path.GetFullPath(databasePath));
        services.TryAddKeyedSingleton(key, (services, _) =>
            SqliteDatabase.Open(key.Path, services.GetService<ILogger<SqliteDatabase>>()));
        return key;
    }

    private sealed record DatabaseKey(string Path);
}
