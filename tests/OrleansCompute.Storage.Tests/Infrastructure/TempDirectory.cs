// A directory of its own for each test class, removed with everything in it when the class is done.
namespace OrleansCompute.Storage.Tests.Infrastructure;

public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("occ-storage-").FullName;

    /// <summary>A store file in this directory that no other test uses.</summary>
    public string NewDatabasePath() => System.IO.Path.Combine(Path, $"{Guid.NewGuid():N}.db");

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
