using System.Net;
using System.Net.Sockets;

namespace OrleansCompute.Chain.Devnet;

/// <summary>Free ports on 127.0.0.1 for local processes (Anvil, the host, its silo). Another process may take one before it is bound.</summary>
public static class LoopbackPorts
{
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
