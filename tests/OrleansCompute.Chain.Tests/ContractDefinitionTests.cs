using System.Reflection;
using Nethereum.ABI.ABIDeserialisation;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;
using OrleansCompute.Chain.Contracts;
using OrleansCompute.Chain.Deployment;
using OrleansCompute.Chain.Devnet;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>The hand-written typed messages must stay one to one with what forge builds; this catches any drift.</summary>
public sealed class ContractDefinitionTests
{
    public static TheoryData<string, string> Contracts => new()
    {
        { ContractArtifact.LeaseEscrow, "OrleansCompute.Chain.Contracts.LeaseEscrow" },
        { ContractArtifact.ComputeCredit, "OrleansCompute.Chain.Contracts.ComputeCredit" },
    };

    private static async Task<ContractArtifact> ArtifactAsync(string name)
    {
        var toolchain = FoundryToolchain.Locate(AppContext.BaseDirectory);
        await toolchain.EnsureBuiltAsync();
        return ContractArtifact.FromForgeOut(toolchain.OutDirectory, name);
    }

    private static Type[] TypesIn(string @namespace) =>
        typeof(ContractErrors).Assembly.GetTypes().Where(t => t.Namespace == @namespace).ToArray();

    [Theory]
    [MemberData(nameof(Contracts))]
    public async Task Every_function_event_and_error_of_the_artifact_has_a_typed_message_with_the_same_signature(string contract, string @namespace)
    {
        var abi = new ABIJsonDeserialiser().DeserialiseContract((await ArtifactAsync(contract)).AbiJson);
        var types = TypesIn(@namespace);

        var functions = types.Where(t => t.GetCustomAttribute<FunctionAttribute>() is not null)
            .Select(t => ABITypedRegistry.GetFunctionABI(t))
            .Select(f => $"{f.Name} {f.Sha3Signature} -> {string.Join(",", (f.OutputParameters ?? []).Select(p => p.Type))}");
        Assert.Equal(
            abi.Functions.Select(f => $"{f.Name} {f.Sha3Signature} -> {string.Join(",", (f.OutputParameters ?? []).Select(p => p.Type))}").Order(),
            functions.Order());

        var events = types.Where(t => t.GetCustomAttribute<EventAttribute>() is not null)
            .Select(t => ABITypedRegistry.GetEvent(t))
            .Select(e => $"{e.Name} {e.Sha3Signature} indexed {string.Join(",", e.InputParameters.Select(p => p.Indexed))}");
        Assert.Equal(
            abi.Events.Select(e => $"{e.Name} {e.Sha3Signature} indexed {string.Join(",", e.InputParameters.Select(p => p.Indexed))}").Order(),
            events.Order());

        var errors = types.Where(t => t.GetCustomAttribute<ErrorAttribute>() is not null).Select(t => ABITypedRegistry.GetError(t));
        Assert.Equal(abi.Errors.Select(e => $"{e.Name} {e.Sha3Signature}").Order(), errors.Select(e => $"{e.Name} {e.Sha3Signature}").Order());
        Assert.All(errors, error => Assert.Contains(ContractErrors.All, type => ABITypedRegistry.GetError(type).Sha3Signature == error.Sha3Signature));
    }

    [Fact]
    public async Task An_artifact_gives_its_abi_and_creation_bytecode()
    {
        var artifact = await ArtifactAsync(ContractArtifact.LeaseEscrow);

        Assert.Equal("LeaseEscrow", artifact.Name);
        Assert.Matches("^0x[0-9a-f]{200,}$", artifact.Bytecode);
        Assert.StartsWith("[", artifact.AbiJson);
    }

    [Fact]
    public void A_file_that_is_not_a_forge_artifact_is_refused_with_its_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"occ-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{"abi":[]}""");
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => ContractArtifact.Load(path));
            Assert.Contains(path, error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
