using OrleansCompute.Abstractions;

namespace OrleansCompute.Chain.Escrow;

/// <summary>What a tenant can pay a lease's deposit from: the credits in its wallet and its balance in the escrow.</summary>
public sealed record TenantFunds(Credits InWallet, Credits InEscrow)
{
    public Credits Total => InWallet + InEscrow;
}
