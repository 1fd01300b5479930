using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansCompute.Storage.Hosting;
using OrleansCompute.Storage.Tests.Infrastructure;

namespace OrleansCompute.Storage.Tests;

/// <summary>A real silo is stopped and a new one started on the same file: what the first one stored is back.</summary>
public sealed class SiloRestartTests(TempDirectory directory) : IClassFixture<TempDirectory>
{
    private static readonly TimeSpan TickPeriod = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Grain_state_and_reminders_survive_a_silo_restart_on_the_same_database_file()
    {
        var path = directory.NewDatabasePath();

        using (var first = await StartSiloAsync(path))
        {
            var probe = first.Services.GetRequiredService<IGrainFactory>().GetGrain<IRestartProbeGrain>("probe-1");
            var ticked = ReminderTicks.NextTick("probe-1");
            await probe.RememberAsync("kept across restarts", TickPeriod);
            await ticked.WaitAsync(TimeSpan.FromSeconds(10));
            await first.StopAsync();
        }

        var tickedAfterRestart = ReminderTicks.NextTick("probe-1");
        using var second = await StartSiloAsync(path);
        var restarted = second.Services.GetRequiredService<IGrainFactory>().GetGrain<IRestartProbeGrain>("probe-1");

        Assert.Equal("kept across restarts", await restarted.NoteAsync());
        await tickedAfterRestart.WaitAsync(TimeSpan.FromSeconds(15));
        await second.StopAsync();
    }

    private static async Task<IHost> StartSiloAsync(string databasePath)
    {
        var host = new HostBuilder()
            .UseOrleans(silo => silo
                .UseLocalhostClustering(siloPort: FreePort(), gatewayPort: FreePort())
                .AddSqliteGrainStorage(RestartProbeGrain.StorageName, databasePath)
                .UseSqliteReminderService(databasePath)
                .Configure<ReminderOptions>(options => options.MinimumReminderPeriod = TickPeriod))
            .Build();
        await host.StartAsync();
        return host;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
