using OrleansCompute.Chain.Devnet;
using OrleansCompute.Cli;
using OrleansCompute.Cli.Api;
using OrleansCompute.Cli.Devnet;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary><c>occ devnet up</c> as a user runs it: the real host process, Anvil with a state file, a restart.</summary>
public sealed class DevnetTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "occ-devnet-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Devnet_up_deploys_once_a_restart_keeps_the_chain_its_contracts_and_balances_and_an_outdated_escrow_is_replaced()
    {
        var (chainPort, apiPort) = (LoopbackPorts.Free(), LoopbackPorts.Free());
        var files = new DevnetFiles(_directory);

        var first = await RunUntilUpAsync(chainPort, apiPort, async api =>
        {
            var offers = await api.GetOffersAsync(null, null, default);
            Assert.Contains(offers, o => o.Kind == "trainium2");
            Assert.Contains(offers, o => o.Kind == "inferentia2");
            Assert.Contains(offers, o => o.Kind == "h100");
        });
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains("deploying", first.Error);
        var deployed = files.ReadConfig()!;
        Assert.True(File.Exists(files.AnvilStatePath), "anvil wrote no state file");

        var second = await RunUntilUpAsync(chainPort, apiPort, async api =>
        {
            var status = await RunOccAsync("devnet", "status", "--json");
            Assert.True(status.ExitCode == 0, status.Error);
            Assert.Contains("\"contractsDeployed\": true", status.Output);
            Assert.Contains("10000.000000", status.Output);
            Assert.NotEmpty(await api.GetOffersAsync("trainium2", null, default));
        });
        Assert.True(second.ExitCode == 0, second.Error);
        Assert.Contains("reusing the contracts", second.Error);
        Assert.Equal(deployed.EscrowAddress, files.ReadConfig()!.EscrowAddress);

        // A devnet.json whose escrow is not one this build can speak to (here: the credit token, which has code
        // but no EIP-712 domain; in life, an escrow deployed before a checkout was updated) gets fresh contracts.
        files.WriteConfig(files.ReadConfig()! with { EscrowAddress = deployed.CreditAddress });
        var third = await RunUntilUpAsync(chainPort, apiPort, async api => Assert.NotEmpty(await api.GetOffersAsync("h100", null, default)));
        Assert.True(third.ExitCode == 0, third.Error);
        Assert.Contains("this build speaks version", third.Error);
        Assert.Contains("deploying", third.Error);
        Assert.NotEqual(deployed.CreditAddress, files.ReadConfig()!.EscrowAddress);
    }

    private async Task<(int ExitCode, string Error)> RunUntilUpAsync(int chainPort, int apiPort, Func<MarketApiClient, Task> whileUp)
    {
        using var stop = new CancellationTokenSource();
        var error = new StringWriter();
        var run = OccApp.RunAsync(["devnet", "up", "--chain-port", chainPort.ToString(), "--api-port", apiPort.ToString()],
            TextWriter.Null, error, _directory, stop.Token);

        var api = new MarketApiClient(new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") });
        var deadline = DateTime.UtcNow.AddSeconds(180);
        while (!await api.IsHealthyAsync(default) || (await api.GetOffersAsync(null, null, default)).Count == 0)
        {
            Assert.False(run.IsCompleted, $"devnet up stopped early: {error}");
            Assert.True(DateTime.UtcNow < deadline, $"devnet up did not come up: {error}");
            await Task.Delay(250);
        }
        try
        {
            await whileUp(api);
        }
        finally
        {
            await stop.CancelAsync();
        }
        return (await run, error.ToString());
    }

    private async Task<(int ExitCode, string Output, string Error)> RunOccAsync(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var exit = await OccApp.RunAsync(args, output, error, _directory);
        return (exit, output.ToString(), error.ToString());
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }
}
