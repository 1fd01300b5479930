using OrleansCompute.Cli.Devnet;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// A second <c>occ devnet up</c> refused while one runs names the running one's <c>occ devnet up</c> to stop, found as its
/// hosts' parent: killing the hosts and anvil of a devnet started in the background leaves it running, and it starts its
/// anvil again.
/// </summary>
public sealed class DevnetGuardTests
{
    [Theory]
    [InlineData("12616 (dotnet) S 12500 12500 12500 0 -1 4194560", 12500)]
    [InlineData("4242 (a (strange) name) R 777 4242 4242 0 -1", 777)]
    [InlineData("1 (init) S 0 1 1 0 -1", null)]
    [InlineData("99 (orphan) S 1 99 99 0 -1", null)]
    [InlineData("garbage", null)]
    public void The_parent_of_a_process_is_read_from_its_proc_stat_line_whatever_its_command_holds(string stat, int? parent)
    {
        Assert.Equal(parent, DevnetGuard.ParentProcessId(stat));
    }

    [Fact]
    public void This_process_reads_its_own_parent()
    {
        if (!File.Exists("/proc/self/stat")) return;
        var parent = DevnetGuard.ParentProcessId(File.ReadAllText("/proc/self/stat"));
        Assert.NotNull(parent);
        Assert.True(File.Exists($"/proc/{parent}/cmdline"));
    }
}
