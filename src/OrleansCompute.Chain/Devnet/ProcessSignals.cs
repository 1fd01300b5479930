using System.Diagnostics;
using System.Runtime.InteropServices;

namespace OrleansCompute.Chain.Devnet;

/// <summary>Asks a child process to stop cleanly (POSIX signals), where .NET's Process.Kill would only kill it.</summary>
public static class ProcessSignals
{
    public const int SigInt = 2;
    public const int SigTerm = 15;

    /// <summary>Sends <paramref name="signal"/>; false where there are no POSIX signals or the process is gone.</summary>
    public static bool Send(Process process, int signal) =>
        (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) && !process.HasExited && Kill(process.Id, signal) == 0;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
