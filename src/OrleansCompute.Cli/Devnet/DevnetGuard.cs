using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace OrleansCompute.Cli.Devnet;

/// <summary>
/// Refuses <c>occ devnet up</c> while a devnet already runs, before it deletes, starts or writes anything. Otherwise its
/// anvil and hosts fail to bind while the running devnet answers its readiness checks, so it reports itself up, and it
/// rewrites that devnet's files and opens its market store under another cluster.
/// </summary>
public static class DevnetGuard
{
    public static void EnsureNoneRunning(DevnetFiles files, int chainPort, int apiPort, int hosts)
    {
        var ports = new List<(int Port, string Use)> { (chainPort, "the chain") };
        ports.AddRange(Enumerable.Range(0, hosts).Select(i => (apiPort + i, hosts == 1 ? "the host" : $"host {i + 1}")));
        if (ports.FirstOrDefault(p => p.Port is < 1 or > IPEndPoint.MaxPort) is { Use: not null } invalid)
            throw new CliException($"port {invalid.Port} for {invalid.Use} is not a TCP port (1 to {IPEndPoint.MaxPort}).");
        if (chainPort >= apiPort && chainPort < apiPort + hosts)
            throw new CliException($"--chain-port {chainPort} is also a host's port (--api-port {apiPort}{(hosts > 1 ? $" and the {hosts - 1} after it" : "")}).");

        var busy = ports.Where(p => !CanListen(p.Port)).Select(p => $"{p.Port} ({p.Use})").ToList();
        var taken = busy.Count == 1 ? $"port {busy[0]} is in use" : $"ports {string.Join(", ", busy)} are in use";
        var live = LiveHosts(files);
        var alive = live.Select(h => $"pid {h.ProcessId} at {h.Url}").ToList();
        var running = $"a devnet of {files.Directory} seems to run already ({(alive.Count == 1 ? "host" : "hosts")} {string.Join(", ", alive)}, from {files.HostsPath})";
        // Its `occ devnet up` may run without a terminal (started in the background): killing its hosts and anvil then
        // leaves it running, and it starts its anvil again. Or the terminal that ran it is gone (occ killed on its own
        // leaves its hosts and anvil running).
        var stop = live.Select(h => DevnetProcessOf(h.ProcessId)).FirstOrDefault(pid => pid is not null) is { } devnet
            ? $"Stop it with Ctrl+C in its terminal, or with kill {devnet} (its `occ devnet up`, which stops its hosts and anvil)"
            : $"Stop it with Ctrl+C in its terminal (if that is gone: kill {string.Join(" ", live.Select(h => h.ProcessId))}, and the anvil on its chain port)";
        if (busy.Count > 0 && alive.Count > 0)
            throw new CliException($"{taken}: {running}. {stop}, " +
                                   "or run a second devnet from another checkout with other ports (--chain-port, --api-port).");
        if (busy.Count > 0)
            throw new CliException($"{taken}: a devnet seems to run already (or another program holds it). " +
                                   "Stop it with Ctrl+C in its terminal, or pick other ports with --chain-port and --api-port.");
        // Its ports are free but its hosts live (other ports): a second devnet here would share its chain state and market store.
        if (alive.Count > 0)
            throw new CliException($"{running}, on other ports; a second one would share its files. {stop} first.");
    }

    /// <summary>Whether this process can listen on the port now (released at once: a check, not a reservation).</summary>
    private static bool CanListen(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        // A devnet just stopped leaves connections in TIME_WAIT, which must not count as in use. (On Windows this option
        // would let the bind take a listening port, and TIME_WAIT does not block there anyway.)
        if (!OperatingSystem.IsWindows()) socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            socket.Listen();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The hosts in hosts.json whose process still runs (the file outlives the devnet that wrote it).</summary>
    private static List<RunningHost> LiveHosts(DevnetFiles files) => StartedHosts(files).Where(host => IsHostProcess(host.ProcessId)).ToList();

    /// <summary>The hosts the last <c>occ devnet up</c> started, as hosts.json lists them; none when it is missing or unreadable.</summary>
    internal static IReadOnlyList<RunningHost> StartedHosts(DevnetFiles files)
    {
        try
        {
            return files.ReadHosts();
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            return [];
        }
    }

    /// <summary>The `occ devnet up` that started the host, while it runs; null when it is gone or the system does not say (Linux does).</summary>
    private static int? DevnetProcessOf(int hostProcessId)
    {
        try
        {
            var stat = $"/proc/{hostProcessId}/stat";
            if (!File.Exists(stat) || ParentProcessId(File.ReadAllText(stat)) is not { } parent) return null;
            var commandLine = File.ReadAllText($"/proc/{parent}/cmdline").Split('\0');
            return commandLine.Contains("devnet") && commandLine.Contains("up") ? parent : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The parent's pid in a /proc/PID/stat line: the field after the state, which follows the command in parentheses (which may hold spaces and parentheses).</summary>
    public static int? ParentProcessId(string stat)
    {
        var fields = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 1 && int.TryParse(fields[1], out var parent) && parent > 1 ? parent : null;
    }

    /// <summary>Whether the process runs and is a host (a pid of a devnet stopped long ago may be another program's by now).</summary>
    internal static bool IsHostProcess(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            if (process.HasExited) return false;
            // The pid of a devnet stopped long ago may belong to another program by now; Linux tells which.
            var commandLine = $"/proc/{processId}/cmdline";
            return !File.Exists(commandLine) || File.ReadAllText(commandLine).Contains("OrleansCompute.Host", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
