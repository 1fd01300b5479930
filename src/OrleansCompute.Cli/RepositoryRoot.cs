namespace OrleansCompute.Cli;

/// <summary>The checkout occ belongs to: <c>OCC_HOME</c> (set by <c>./occ</c>), else the folder above holding OrleansCompute.sln.</summary>
public static class RepositoryRoot
{
    public static string Find()
    {
        if (Environment.GetEnvironmentVariable("OCC_HOME") is { Length: > 0 } home) return Path.GetFullPath(home);
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "OrleansCompute.sln"))) return dir.FullName;
            }
        }
        throw new CliException("Cannot find the OrleansCompute checkout: run occ from inside it, or set OCC_HOME.");
    }
}
