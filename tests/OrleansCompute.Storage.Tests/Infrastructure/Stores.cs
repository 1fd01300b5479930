// Builds the storage classes outside a silo, with the serializer and activators a silo would give them.
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using OrleansCompute.Storage.Database;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Storage.GrainStorage;
using OrleansCompute.Storage.LeaseBook;

namespace OrleansCompute.Storage.Tests.Infrastructure;

internal static class Stores
{
    private static readonly IServiceProvider Services = new ServiceCollection()
        .AddSerializer(serializer => serializer.AddAssembly(typeof(TestState).Assembly).AddAssembly(typeof(BookedLease).Assembly))
        .BuildServiceProvider();

    public static SqliteGrainStorage GrainStorage(SqliteDatabase database, string name = "market") => new(
        name,
        database,
        new OrleansGrainStorageSerializer(Services.GetRequiredService<Serializer>()),
        Services.GetRequiredService<IActivatorProvider>());

    public static InProcessGrainStorage InProcessStorage() => new(
        new OrleansGrainStorageSerializer(Services.GetRequiredService<Serializer>()),
        Services.GetRequiredService<IActivatorProvider>());

    public static SqliteLeaseBook LeaseBook(SqliteDatabase database) => new(database, Services.GetRequiredService<Serializer<BookedLease>>());

    public static InProcessLeaseBook InProcessLeaseBook() => new();

    public static GrainId Grain(string key) => GrainId.Create("test", key);
}
