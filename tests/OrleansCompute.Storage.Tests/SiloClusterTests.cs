using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Placement;
using OrleansCompute.Storage.Hosting;
using OrleansCompute.Storage.Tests.Infrastructure;

namespace OrleansCompute.Storage.Tests;

/// <summary>Two real silos with SQLite clustering on one file form one cluster, as silo processes sharing it would.</summary>
public sealed class SiloClusterTests(TempDirectory directory) : IClassFixture<TempDirectory>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Two_silos_on_one_database_file_form_one_cluster_share_grain_state_and_see_each_other_leave()
    {
        var path = directory.NewDatabasePath();
        var clusterId = $"cluster-{Guid.NewGuid():N}";
        using var first = await StartSiloAsync(path, clusterId, "first");
        using var second = await StartSiloAsync(path, clusterId, "second");
        var firstAddress = AddressOf(first);
        var secondAddress = AddressOf(second);

        foreach (var silo in new[] { first, second })
        {
            await Eventually(async () =>
                (await Management(silo).GetHosts(onlyActive: true)).Keys.ToHashSet().SetEquals([firstAddress, secondAddress]));
        }

        // Placed on the silo it is called from, so the second silo can only learn the note from the file.
        var note = first.Services.GetRequiredService<IGrainFactory>().GetGrain<IClusterNoteGrain>("note-1");
        Assert.Equal(firstAddress, await note.WriteAsync("written through the first silo"));

        await first.StopAsync();

        // The stop wrote the first silo's death to the table before it returned; the second learns it by gossip.
        await Eventually(async () =>
        {
            var hosts = await Management(second).GetHosts(onlyActive: false);
            return hosts.GetValueOrDefault(firstAddress) == SiloStatus.Dead && hosts[secondAddress] == SiloStatus.Active;
        });
        var table = await second.Services.GetRequiredService<IMembershipTable>().ReadAllAsync();
        Assert.Equal(SiloStatus.Dead, table.TryGet(firstAddress)?.Item1.Status);
        Assert.Equal(SiloStatus.Active, table.TryGet(secondAddress)?.Item1.Status);

        var sameNote = second.Services.GetRequiredService<IGrainFactory>().GetGrain<IClusterNoteGrain>("note-1");
        var (text, readOn) = await sameNote.ReadAsync();
        Assert.Equal("written through the first silo", text);
        Assert.Equal(secondAddress, readOn);

        await second.StopAsync();
    }

    private static async Task<IHost> StartSiloAsync(string databasePath, string clusterId, string name)
    {
        var host = new HostBuilder()
            .UseOrleans(silo => silo
                .Configure<ClusterOptions>(options =>
                {
                    options.ClusterId = clusterId;
                    options.ServiceId = "storage-tests";
                })
                .Configure<EndpointOptions>(options =>
                {
                    options.AdvertisedIPAddress = IPAddress.Loopback;
                    options.SiloPort = FreePort();
                    options.GatewayPort = FreePort();
                })
                .Configure<SiloOptions>(options => options.SiloName = name)
                // Each silo reads the table every second rather than every minute, so views converge quickly.
                .Configure<ClusterMembershipOptions>(options =>
                {
                    options.TableRefreshTimeout = TimeSpan.FromSeconds(1);
                    options.ProbeTimeout = TimeSpan.FromSeconds(1);
                })
                .UseSqliteClustering(databasePath)
                .AddSqliteGrainStorage(ClusterNoteGrain.StorageName, databasePath))
            .Build();
        await host.StartAsync();
        return host;
    }

    private static SiloAddress AddressOf(IHost silo) => silo.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;

    private static IManagementGrain Management(IHost silo) =>
        silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);

    private static async Task Eventually(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Not true within {Patience}.");
            await Task.Delay(100);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

public interface IClusterNoteGrain : IGrainWithStringKey
{
    /// <summary>Stores <paramref name="note"/>; returns the silo the grain runs on.</summary>
    Task<SiloAddress> WriteAsync(string note);

    Task<(string? Note, SiloAddress Silo)> ReadAsync();
}

[PreferLocalPlacement]
public sealed class ClusterNoteGrain(
    [PersistentState("note", ClusterNoteGrain.StorageName)] IPersistentState<ProbeState> state,
    ILocalSiloDetails silo) : Grain, IClusterNoteGrain
{
    public const string StorageName = "cluster-store";

    public async Task<SiloAddress> WriteAsync(string note)
    {
        state.State = new ProbeState { Note = note };
        await state.WriteStateAsync();
        return silo.SiloAddress;
    }

    public Task<(string? Note, SiloAddress Silo)> ReadAsync() => Task.FromResult((state.State.Note, silo.SiloAddress));
}
