using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Cli;
using OrleansCompute.Cli.Devnet;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// How <c>occ</c> rides out a host of the devnet's cluster going away (the devnet test kills a real one): a host that
/// refuses the connection is skipped for the next, a read answered 503 with Retry-After is sent again, a write is not.
/// Real HTTP on loopback: a small server that answers like a host whose cluster is moving grains, and a port nobody holds.
/// </summary>
public sealed class HostFailoverTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "occ-failover-" + Guid.NewGuid().ToString("N"));
    private readonly string _deadHost = $"http://127.0.0.1:{LoopbackPorts.Free()}";
    private WebApplication _app = null!;
    private string _liveHost = null!;

    /// <summary>How many 503s the live host still answers before it serves; and every request it saw.</summary>
    private int _unavailableFor;
    private readonly List<string> _seen = [];

    public async Task InitializeAsync()
    {
        _liveHost = $"http://127.0.0.1:{LoopbackPorts.Free()}";
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(_liveHost);
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Run(async http =>
        {
            lock (_seen) _seen.Add($"{http.Request.Method} {http.Request.Path}");
            if (Interlocked.Decrement(ref _unavailableFor) >= 0)
            {
                http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                http.Response.Headers.RetryAfter = "1";
                await http.Response.WriteAsJsonAsync(new { title = "ClusterUnavailable", status = 503, detail = "a silo is gone", reason = "ClusterUnavailable" });
                return;
            }
            await http.Response.WriteAsJsonAsync(Array.Empty<object>());
        });
        await _app.StartAsync();
        Directory.CreateDirectory(_directory);
    }

    [Fact]
    public async Task A_command_goes_on_with_the_next_host_of_the_devnet_when_the_first_does_not_answer()
    {
        WriteDevnet(_deadHost, _liveHost);

        var (exit, output, error) = await RunOccAsync("offers", "--json");

        Assert.True(exit == 0, error);
        Assert.Equal("[]", output.Trim());
        Assert.Contains($"{_deadHost} does not answer; trying {_liveHost}", error);
        Assert.Equal(["GET /api/offers"], _seen);
    }

    [Fact]
    public async Task A_read_answered_503_is_sent_again_after_its_retry_after()
    {
        WriteDevnet(_liveHost);
        _unavailableFor = 2;

        var (exit, output, error) = await RunOccAsync("offers", "--json");

        Assert.True(exit == 0, error);
        Assert.Equal("[]", output.Trim());
        Assert.Equal(3, _seen.Count);
        Assert.Contains("again in 1 s", error);
    }

    [Fact]
    public async Task A_write_answered_503_is_not_sent_again_and_the_user_sees_why()
    {
        WriteDevnet(_liveHost);
        _unavailableFor = 1;

        var (exit, _, error) = await RunOccAsync("lease", "end", "0197c0de-0000-7000-8000-000000000001", "--tenant", "tenant1");

        Assert.Equal(1, exit);
        Assert.Contains("ClusterUnavailable", error);
        // occ sends the id as it prints ids, whichever way it was typed.
        Assert.Equal(["POST /api/leases/0197c0de000070008000000000000001/end"], _seen);
    }

    [Fact]
    public async Task When_no_host_answers_the_error_names_every_host_tried()
    {
        var otherDead = $"http://127.0.0.1:{LoopbackPorts.Free()}";
        WriteDevnet(_deadHost, otherDead);

        var (exit, _, error) = await RunOccAsync("offers");

        Assert.Equal(1, exit);
        Assert.Contains($"No host answers at {_deadHost} or {otherDead}", error);
    }

    [Fact]
    public async Task An_explicit_api_url_is_the_only_host_tried()
    {
        WriteDevnet(_liveHost);

        var (exit, _, error) = await RunOccAsync("offers", "--api", _deadHost);

        Assert.Equal(1, exit);
        Assert.Contains($"No host answers at {_deadHost}", error);
        Assert.Empty(_seen);
    }

    /// <summary>A devnet whose hosts are <paramref name="hosts"/>, and its tenant wallets (a write is signed before it is sent).</summary>
    private void WriteDevnet(params string[] hosts)
    {
        var files = new DevnetFiles(_directory);
        files.WriteConfig(new DevnetConfig("http://127.0.0.1:1", 31337, "0x" + new string('1', 40), "0x" + new string('2', 40), 0, hosts[0], hosts));
        files.WriteWallets(DevWallets.Tenants);
    }

    private async Task<(int ExitCode, string Output, string Error)> RunOccAsync(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var exit = await OccApp.RunAsync(args, output, error, _directory);
        return (exit, output.ToString(), error.ToString());
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }
}
