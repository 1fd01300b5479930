using System.Diagnostics;

namespace OrleansCompute.Chain.Devnet;

/// <summary>
/// The repository's Foundry project (contracts/): where the npm-installed anvil, forge and cast live, and a
/// build that runs only when the contracts changed. All installing and building goes through contracts/run.sh,
/// which pins the toolchain and serialises concurrent builds.
/// </summary>
public sealed class FoundryToolchain
{
    public const string HomeVariable = "OCC_HOME";
    public const string SolutionFile = "OrleansCompute.sln";

    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(10);

    public FoundryToolchain(string repositoryRoot)
    {
        RepositoryRoot = Path.GetFullPath(repositoryRoot);
        ContractsDirectory = Path.Combine(RepositoryRoot, "contracts");
    }

    public string RepositoryRoot { get; }
    public string ContractsDirectory { get; }
    public string RunScript => Path.Combine(ContractsDirectory, "run.sh");
    public string SourceDirectory => Path.Combine(ContractsDirectory, "src");
    public string OutDirectory => Path.Combine(ContractsDirectory, "out");
    public string AnvilPath => ToolPath("anvil");
    public string ForgePath => ToolPath("forge");
    public string CastPath => ToolPath("cast");

    /// <summary>The toolchain of the repository that holds <paramref name="startDirectory"/> (or of <c>OCC_HOME</c>).</summary>
    public static FoundryToolchain Locate(string? startDirectory = null) => new(FindRepositoryRoot(startDirectory));

    /// <summary>
    /// <c>OCC_HOME</c> when set; otherwise the nearest folder holding OrleansCompute.sln above
    /// <paramref name="startDirectory"/>, the app's base directory, or the working directory.
    /// </summary>
    public static string FindRepositoryRoot(string? startDirectory = null)
    {
        if (Environment.GetEnvironmentVariable(HomeVariable) is { Length: > 0 } home)
        {
            return File.Exists(Path.Combine(home, SolutionFile))
                ? Path.GetFullPath(home)
                : throw new DirectoryNotFoundException($"{HomeVariable}={home} does not hold {SolutionFile}.");
        }
        string[] starts = startDirectory is null ? [AppContext.BaseDirectory, Environment.CurrentDirectory] : [startDirectory];
        foreach (var start in starts)
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, SolutionFile))) return directory.FullName;
            }
        }
        throw new DirectoryNotFoundException($"No folder holding {SolutionFile} above {string.Join(" or ", starts)}; set {HomeVariable}.");
    }

    /// <summary>True when an artifact is missing or older than some file under contracts/src.</summary>
    public bool NeedsBuild()
    {
        string[] artifacts =
        [
            Path.Combine(OutDirectory, "ComputeCredit.sol", "ComputeCredit.json"),
            Path.Combine(OutDirectory, "LeaseEscrow.sol", "LeaseEscrow.json"),
        ];
        if (artifacts.Any(path => !File.Exists(path))) return true;
        var oldestArtifact = artifacts.Min(File.GetLastWriteTimeUtc);
        return Directory.Exists(SourceDirectory)
            && Directory.EnumerateFiles(SourceDirectory, "*", SearchOption.AllDirectories).Any(file => File.GetLastWriteTimeUtc(file) > oldestArtifact);
    }

    /// <summary>Installs the toolchain if needed and builds the contracts if they changed.</summary>
    public async Task EnsureBuiltAsync(CancellationToken cancellationToken = default)
    {
        if (NeedsBuild())
            await RunAsync(["build"], cancellationToken);
        else if (!File.Exists(AnvilPath) || !File.Exists(ForgePath) || !File.Exists(CastPath))
            await RunAsync(["install"], cancellationToken);
    }

    private string ToolPath(string tool) =>
        Path.Combine(ContractsDirectory, "node_modules", "@foundry-rs", $"{tool}-linux-amd64", "bin", tool);

    private async Task RunAsync(string[] arguments, CancellationToken cancellationToken)
    {
        if (!File.Exists(RunScript)) throw new FileNotFoundException("The contracts project has no run.sh.", RunScript);
        var start = new ProcessStartInfo("bash") { WorkingDirectory = ContractsDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(RunScript);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);

        using var process = new Process { StartInfo = start };
        var output = new ProcessOutput();
        output.Attach(process);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(BuildTimeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"contracts/run.sh {string.Join(' ', arguments)} did not finish: {output.Tail()}");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"contracts/run.sh {string.Join(' ', arguments)} failed with exit code {process.ExitCode}:\n{output.Tail()}");
    }
}
