using Nethereum.RPC.Eth.DTOs;
using OrleansCompute.Chain.Contracts.ComputeCredit;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Chain.Deployment;

/// <summary>Deploys the credit token, then the escrow that holds it.</summary>
public static class ContractDeployer
{
    /// <param name="deployer">Pays for both deployments.</param>
    /// <param name="creditOwner">May mint credits; usually the deployer itself.</param>
    public static async Task<DeployedContracts> DeployAsync(
        TransactionSender deployer, ContractArtifact credit, ContractArtifact escrow, string creditOwner, CancellationToken cancellationToken = default)
    {
        var creditReceipt = await deployer.DeployAsync(new ComputeCreditDeployment(credit.Bytecode) { InitialOwner = creditOwner }, cancellationToken);
        var creditAddress = ContractAddress(creditReceipt, credit.Name);
        var escrowReceipt = await deployer.DeployAsync(new LeaseEscrowDeployment(escrow.Bytecode) { Credit = creditAddress }, cancellationToken);
        var escrowAddress = ContractAddress(escrowReceipt, escrow.Name);
        return new DeployedContracts(creditAddress, escrowAddress, (long)creditReceipt.BlockNumber.Value);
    }

    /// <summary>Deploys from forge's <c>out/</c> directory.</summary>
    public static Task<DeployedContracts> DeployAsync(TransactionSender deployer, string forgeOutDirectory, string creditOwner, CancellationToken cancellationToken = default) =>
        DeployAsync(
            deployer,
            ContractArtifact.FromForgeOut(forgeOutDirectory, ContractArtifact.ComputeCredit),
            ContractArtifact.FromForgeOut(forgeOutDirectory, ContractArtifact.LeaseEscrow),
            creditOwner,
            cancellationToken);

    private static string ContractAddress(TransactionReceipt receipt, string name) =>
        Nethereum.Util.AddressUtil.Current.ConvertToChecksumAddress(
            receipt.ContractAddress ?? throw new InvalidOperationException($"Deploying {name} returned no contract address (transaction {receipt.TransactionHash})."));
}

/// <summary>Where the contracts live, and the block to start reading escrow events from.</summary>
public sealed record DeployedContracts(string CreditAddress, string EscrowAddress, long DeployBlock);
