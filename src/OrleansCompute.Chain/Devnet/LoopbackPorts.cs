using System.Net;
using System.Net.Sockets;

namespace OrleansCompute.Chain.Devnet;

/// <summary>
/// Free ports on 127.0.0.1 for local processes (Anvil, the host, its silo). A port is chosen below the kernel's
/// ephemeral range: a port the kernel handed out (bind to 0) and that is free again can be taken as the local port of
/// any outgoing connection before its process binds it, which made busy test runs fail with "address already in
/// use". Below that range only listeners choose ports. Within one process no port is handed out twice; another
/// process can still take one before it is bound, so callers bind soon after asking.
/// </summary>
public static class LoopbackPorts
{
    private const int Lowest = 10_000;
    private static readonly HashSet<int> HandedOut = [];
    private static readonly Lock Gate = new();

    public static int Free()
    {
        var below = EphemeralRangeStart();
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(Lowest, below);
            lock (Gate)
            {
                if (!HandedOut.Add(port)) continue;
            }
            if (CanListen(port)) return port;
        }
        // The range below the ephemeral one is crowded: let the kernel choose.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool CanListen(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The first port of the kernel's ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range), 32768 when unknown.</summary>
    private static int EphemeralRangeStart()
    {
        const string range = "/proc/sys/net/ipv4/ip_local_port_range";
        try
        {
            var first = File.Exists(range) ? File.ReadAllText(range).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[0] : null;
            return first is not null && int.TryParse(first, out var start) && start > Lowest + 1_000 ? start : 32_768;
        }
        catch (IOException)
        {
            return 32_768;
        }
    }
}
