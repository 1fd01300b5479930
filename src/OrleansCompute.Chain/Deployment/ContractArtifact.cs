using System.Text.Json;

namespace OrleansCompute.Chain.Deployment;

/// <summary>A contract as forge builds it: <c>out/{Name}.sol/{Name}.json</c> with its ABI and creation bytecode.</summary>
public sealed record ContractArtifact(string Name, string AbiJson, string Bytecode)
{
    public const string ComputeCredit = "ComputeCredit";
    public const string LeaseEscrow = "LeaseEscrow";

    /// <summary>Reads <c>{outDirectory}/{name}.sol/{name}.json</c>.</summary>
    public static ContractArtifact FromForgeOut(string outDirectory, string name) =>
        Load(Path.Combine(outDirectory, $"{name}.sol", $"{name}.json"), name);

    public static ContractArtifact Load(string path, string? name = null)
    {
        using var stream = File.OpenRead(path);
        using var json = JsonDocument.Parse(stream);
        var root = json.RootElement;
        if (!root.TryGetProperty("abi", out var abi))
            throw new InvalidDataException($"{path} has no 'abi'; is it a forge build artifact?");
        if (!root.TryGetProperty("bytecode", out var bytecode) || !bytecode.TryGetProperty("object", out var code) || code.GetString() is not { Length: > 2 } hex)
            throw new InvalidDataException($"{path} has no 'bytecode.object'; is the contract abstract, or the build incomplete?");
        return new ContractArtifact(name ?? Path.GetFileNameWithoutExtension(path), abi.GetRawText(), hex.StartsWith("0x", StringComparison.Ordinal) ? hex : "0x" + hex);
    }
}
