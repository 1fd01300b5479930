using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace OrleansCompute.Chain.Devnet;

/// <summary>
/// A local Anvil chain as a child process: started on a port, ready once eth_chainId answers, and stopped with
/// SIGINT so that it dumps its state (when started with a state file) before it exits.
/// </summary>
public sealed class AnvilProcess : IAsyncDisposable
{
    private static readonly TimeSpan DefaultGracePeriod = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly ProcessOutput _output;

    private AnvilProcess(Process process, ProcessOutput output, AnvilOptions options, int port)
    {
        _process = process;
        _output = output;
        Options = options;
        Port = port;
    }

    public AnvilOptions Options { get; }
    public int Port { get; }
    public string RpcUrl => $"http://{Options.Host}:{Port}";
    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;

    public static async Task<AnvilProcess> StartAsync(string anvilPath, AnvilOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new AnvilOptions();
        if (!File.Exists(anvilPath)) throw new FileNotFoundException("anvil is not installed; run contracts/run.sh install.", anvilPath);

        // A free port picked here can be taken by someone else before anvil binds it: try a few.
        const int attempts = 3;
        for (var attempt = 1; ; attempt++)
        {
            var port = options.Port != 0 ? options.Port : LoopbackPorts.Free();
            var anvil = Launch(anvilPath, options, port);
            try
            {
                await anvil.WaitUntilReadyAsync(cancellationToken);
                return anvil;
            }
            catch (Exception) when (options.Port == 0 && attempt < attempts && anvil.HasExited && anvil._output.Tail().Contains("in use", StringComparison.OrdinalIgnoreCase))
            {
                await anvil.DisposeAsync();
            }
            catch
            {
                await anvil.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>SIGINT, so anvil writes its state file; killed when it has not exited after <paramref name="gracePeriod"/>.</summary>
    public async Task StopAsync(TimeSpan? gracePeriod = null)
    {
        if (_process.HasExited) return;
        if (ProcessSignals.Send(_process, ProcessSignals.SigInt))
        {
            using var grace = new CancellationTokenSource(gracePeriod ?? DefaultGracePeriod);
            try
            {
                await _process.WaitForExitAsync(grace.Token);
                return;
            }
            catch (OperationCanceledException)
            {
                // It did not stop in time; fall through to kill.
            }
        }
        try
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }

    private static AnvilProcess Launch(string anvilPath, AnvilOptions options, int port)
    {
        var start = new ProcessStartInfo(anvilPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--host");
        start.ArgumentList.Add(options.Host);
        start.ArgumentList.Add("--port");
        start.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.ArgumentList.Add("--chain-id");
        start.ArgumentList.Add(options.ChainId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // Anvil keeps the states of recent blocks in memory and by default writes every older one to a directory under
        // ~/.foundry/anvil/tmp, which a killed Anvil leaves behind: one settlement benchmark left 15 GB there. Older
        // states serve only historical calls, which nothing here makes; reorganizations reach back far less than the
        // states kept in memory.
        start.ArgumentList.Add("--max-persisted-states");
        start.ArgumentList.Add("0");
        if (options.StatePath is { } state)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(state))!);
            start.ArgumentList.Add("--state");
            start.ArgumentList.Add(state);
            if (options.StateIntervalSeconds is { } interval)
            {
                start.ArgumentList.Add("--state-interval");
                start.ArgumentList.Add(interval.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        foreach (var argument in options.ExtraArguments) start.ArgumentList.Add(argument);

        var process = new Process { StartInfo = start };
        var output = new ProcessOutput();
        output.Attach(process);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new AnvilProcess(process, output, options, port);
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Options.StartTimeout);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        const string request = """{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}""";
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"anvil exited with code {_process.ExitCode} before it answered:\n{_output.Tail()}");
            try
            {
                using var response = await http.PostAsync(RpcUrl, new StringContent(request, Encoding.UTF8, "application/json"), deadline.Token);
                if (response.IsSuccessStatusCode)
                {
                    using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(deadline.Token));
                    if (json.RootElement.TryGetProperty("result", out _)) return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!deadline.IsCancellationRequested)
            {
                // One slow answer; ask again.
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"anvil did not answer on {RpcUrl} within {Options.StartTimeout.TotalSeconds:0} s:\n{_output.Tail()}");
            }
            try
            {
                await Task.Delay(100, deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"anvil did not answer on {RpcUrl} within {Options.StartTimeout.TotalSeconds:0} s:\n{_output.Tail()}");
            }
        }
    }
}
