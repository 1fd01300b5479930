using System.Diagnostics;
using OrleansCompute.Chain.Devnet;

namespace OrleansCompute.Cli.Devnet;

/// <summary>A market host as a child process of <c>occ devnet up</c>, configured through its environment, logging to a file.</summary>
public sealed class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private HostProcess(Process process, StreamWriter log)
    {
        _process = process;
        _log = log;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The host's exit code once it exits; cancelled with <paramref name="ct"/>.</summary>
    public async Task<int> ExitAsync(CancellationToken ct)
    {
        await _process.WaitForExitAsync(ct);
        return _process.ExitCode;
    }

    public int ProcessId => _process.Id;

    /// <summary>Where the host listens, what it shares with the other hosts of the devnet, and what is its own.</summary>
    /// <param name="clusterId">The devnet run's cluster: every host started with it and <paramref name="storePath"/> joins it.</param>
    /// <param name="operatorKey">The key that pays gas for the settlements this host's silo sends: one sender per key.</param>
    /// <param name="seedDemo">Whether this host seeds the demo providers (the first one does).</param>
    public static HostProcess Start(string repositoryRoot, DevnetConfig devnet, string apiUrl, string storePath, string logPath,
        string clusterId, string operatorKey, bool seedDemo)
    {
        var hostDll = FindHostDll(repositoryRoot);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(hostDll)! };
        start.ArgumentList.Add(hostDll);
        var environment = new Dictionary<string, string>
        {
            ["Urls"] = apiUrl,
            ["Chain__RpcUrl"] = devnet.RpcUrl,
            ["Chain__ChainId"] = devnet.ChainId.ToString(),
            ["Chain__CreditAddress"] = devnet.CreditAddress,
            ["Chain__EscrowAddress"] = devnet.EscrowAddress,
            ["Chain__DeployBlock"] = devnet.DeployBlock.ToString(),
            // The operator's key (it pays gas for settlements) goes through the environment, not the visible command line.
            ["Chain__OperatorPrivateKey"] = operatorKey,
            ["Devnet__SeedDemo"] = seedDemo ? "true" : "false",
            ["Storage__Path"] = storePath,
            // The hosts find each other in the store's membership table, so any free ports do, and a second devnet (another
            // store) never collides with the first.
            ["Orleans__ClusterId"] = clusterId,
            ["Orleans__SiloPort"] = LoopbackPorts.Free().ToString(),
            ["Orleans__GatewayPort"] = LoopbackPorts.Free().ToString(),
        };
        foreach (var (name, value) in environment) start.Environment[name] = value;

        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new HostProcess(process, log);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // Ctrl+C in a terminal already reached the host; SIGTERM covers every other way occ is stopped.
            ProcessSignals.Send(_process, ProcessSignals.SigTerm);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
        await _log.DisposeAsync();
    }

    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null) return;
        lock (log) log.WriteLine(line);
    }

    /// <summary>The host built next to this CLI (Release via ./occ, or whatever the tests built), newest first.</summary>
    private static string FindHostDll(string repositoryRoot)
    {
        var bin = Path.Combine(repositoryRoot, "src", "OrleansCompute.Host", "bin");
        var candidates = Directory.Exists(bin)
            ? Directory.EnumerateFiles(bin, "OrleansCompute.Host.dll", SearchOption.AllDirectories).OrderByDescending(File.GetLastWriteTimeUtc).ToList()
            : [];
        return candidates.FirstOrDefault()
            ?? throw new CliException($"The host is not built ({bin}); run `./occ`, which builds it, or `dotnet build src/OrleansCompute.Host -c Release`.");
    }
}
