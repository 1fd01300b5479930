using OrleansCompute.Chain.Devnet;

namespace OrleansCompute.Cli.Devnet;

/// <summary>
/// The devnet's Anvil, kept running while the devnet is up: when it exits (killed, crashed) it is started again on the
/// same port from its state file. The hosts' RPC pipelines ride out the gap, and blocks mined after the last state dump
/// that the restarted chain no longer has are undone by their chain watcher as a reorganization; without the restart the
/// market would wait for a chain that never comes back.
/// </summary>
public sealed class SupervisedAnvil : IAsyncDisposable
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(5);

    private readonly Func<CancellationToken, Task<AnvilProcess>> _start;
    private readonly Action<string> _say;
    private AnvilProcess? _anvil;

    private SupervisedAnvil(Func<CancellationToken, Task<AnvilProcess>> start, Action<string> say, AnvilProcess anvil)
    {
        (_start, _say, _anvil) = (start, say, anvil);
        RpcUrl = anvil.RpcUrl;
    }

    /// <summary>Where the chain answers: the same port across restarts.</summary>
    public string RpcUrl { get; }

    /// <param name="start">Starts Anvil on a fixed port with its state file; called again for every restart.</param>
    public static async Task<SupervisedAnvil> StartAsync(Func<CancellationToken, Task<AnvilProcess>> start, Action<string> say, CancellationToken ct) =>
        new(start, say, await start(ct));

    /// <summary>Restarts Anvil whenever it exits, until <paramref name="ct"/> is cancelled (then it throws, as Task.Delay does).</summary>
    public async Task KeepRunningAsync(CancellationToken ct)
    {
        while (true)
        {
            await Task.Delay(CheckInterval, ct);
            if (_anvil is { HasExited: false }) continue;

            if (_anvil is { } exited)
            {
                // A Ctrl+C in a terminal reaches Anvil too: it is the devnet stopping, seen here a moment later.
                await Task.Delay(CheckInterval, ct);
                _say("anvil stopped; starting it again from its state file…");
                _anvil = null;
                await exited.DisposeAsync();
            }
            try
            {
                _anvil = await _start(ct);
                _say($"anvil is back at {RpcUrl}; the hosts go on with it (blocks after its last state dump are gone, and undone in the market)");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _say($"anvil did not start again: {e.Message}; trying again in {RetryDelay.TotalSeconds:0} s");
                await Task.Delay(RetryDelay, ct);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_anvil is { } anvil) await anvil.DisposeAsync();
        _anvil = null;
    }
}
