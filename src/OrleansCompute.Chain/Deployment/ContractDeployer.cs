using Nethereum.RPC.Eth.DTOs;
using OrleansCompute.Chain.Contracts.ComputeCredit;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Chain.Deployment;

/// <summary>How the escrow is set up when it is deployed.</summary>
public sealed record EscrowSettings
{
    /// <summary>The owner: sets the fee, pauses new leases, withdraws fees. Null: the deployer.</summary>
    public string? Admin { get; init; }

    /// <summary>The fee on settlements in basis points, at most the contract's cap (1,000). The market charges none by default.</summary>
    public int FeeBps { get; init; }

    /// <summary>How long after a lease's expiry vouchers still settle, and refunds wait.</summary>
    public TimeSpan ClaimWindow { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// The keys that may submit final vouchers (the market's settlement keys), named right after deployment; the admin
    /// must then be the deployer.
    /// </summary>
    public IReadOnlyList<string> Settlers { get; init; } = [];
}

/// <summary>Deploys the credit token, then the escrow that holds it.</summary>
public static class ContractDeployer
{
    /// <param name="deployer">Pays for both deployments.</param>
    /// <param name="creditOwner">May mint credits; usually the deployer itself.</param>
    /// <param name="settings">The escrow's owner, fee and claim window; defaults when null.</param>
    public static async Task<DeployedContracts> DeployAsync(
        TransactionSender deployer, ContractArtifact credit, ContractArtifact escrow, string creditOwner,
        EscrowSettings? settings = null, CancellationToken cancellationToken = default)
    {
        settings ??= new EscrowSettings();
        var creditReceipt = await deployer.DeployAsync(new ComputeCreditDeployment(credit.Bytecode) { InitialOwner = creditOwner }, cancellationToken);
        var creditAddress = ContractAddress(creditReceipt, credit.Name);
        var escrowReceipt = await deployer.DeployAsync(new LeaseEscrowDeployment(escrow.Bytecode)
        {
            Credit = creditAddress,
            Admin = settings.Admin ?? deployer.Address,
            FeeBps = settings.FeeBps,
            ClaimWindow = (long)settings.ClaimWindow.TotalSeconds,
        }, cancellationToken);
        var escrowAddress = ContractAddress(escrowReceipt, escrow.Name);
        foreach (var settler in settings.Settlers)
            await deployer.SendAsync(escrowAddress, new SetSettlerFunction { Settler = settler, Allowed = true }, cancellationToken);
        return new DeployedContracts(creditAddress, escrowAddress, (long)creditReceipt.BlockNumber.Value);
    }

    /// <summary>Deploys from forge's <c>out/</c> directory.</summary>
    public static Task<DeployedContracts> DeployAsync(
        TransactionSender deployer, string forgeOutDirectory, string creditOwner, EscrowSettings? settings = null, CancellationToken cancellationToken = default) =>
        DeployAsync(
            deployer,
            ContractArtifact.FromForgeOut(forgeOutDirectory, ContractArtifact.ComputeCredit),
            ContractArtifact.FromForgeOut(forgeOutDirectory, ContractArtifact.LeaseEscrow),
            creditOwner,
            settings,
            cancellationToken);

    private static string ContractAddress(TransactionReceipt receipt, string name) =>
        Nethereum.Util.AddressUtil.Current.ConvertToChecksumAddress(
            receipt.ContractAddress ?? throw new InvalidOperationException($"Deploying {name} returned no contract address (transaction {receipt.TransactionHash})."));
}

/// <summary>Where the contracts live, and the block to start reading escrow events from.</summary>
public sealed record DeployedContracts(string CreditAddress, string EscrowAddress, long DeployBlock);
