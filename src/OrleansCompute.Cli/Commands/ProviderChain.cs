using Nethereum.Contracts;
using OrleansCompute.Abstractions;
using OrleansCompute.Chain;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Cli.Devnet;

namespace OrleansCompute.Cli.Commands;

/// <summary>
/// A provider's side of the escrow, with its payout key: what settlements have credited it, and taking that out to its
/// wallet. The escrow pays by pull, so no operator is involved.
/// </summary>
public sealed class ProviderChain(DevnetConfig devnet)
{
    public static ProviderChain Connect(CliContext context) => new(context.DevnetConfig());

    /// <summary>What the escrow owes <paramref name="payout"/> (settled, not yet withdrawn), and what its wallet holds.</summary>
    public async Task<(Credits Owed, Credits Wallet)> BalancesAsync(string payout, CancellationToken ct)
    {
        var escrow = Escrow(new ChainRpc(devnet.RpcUrl));
        return (await escrow.GetProviderBalanceAsync(payout, ct), await escrow.Credit.BalanceOfAsync(payout, ct));
    }

    /// <summary>Pays the provider's whole balance in the escrow to its wallet.</summary>
    /// <returns>The amount and the withdraw transaction hash.</returns>
    public async Task<(Credits Amount, string Transaction)> WithdrawAsync(TenantWallet provider, CancellationToken ct)
    {
        var rpc = new ChainRpc(devnet.RpcUrl);
        var escrow = Escrow(rpc);
        var owed = await escrow.GetProviderBalanceAsync(provider.Address, ct);
        if (owed == Credits.Zero)
            throw new CliException($"The escrow owes {provider.Name} ({provider.Address}) nothing yet: settled leases credit it.");
        using var sender = new TransactionSender(rpc, provider.PrivateKey, devnet.ChainId);
        var receipt = await escrow.WithdrawAsync(sender, ct);
        // The event says what was paid, which a settlement mined in between may have made more than the balance read above.
        var paid = receipt.DecodeAllEvents<WithdrawnEventDTO>().Single().Event.Amount;
        return (CreditsOnChain.FromUnits(paid), receipt.TransactionHash);
    }

    private EscrowClient Escrow(ChainRpc rpc) => new(rpc, devnet.EscrowAddress, devnet.CreditAddress);
}
