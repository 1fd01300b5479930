using Nethereum.RPC.Eth.DTOs;
using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Contracts.ComputeCredit;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Chain.Escrow;

/// <summary>Reads and writes of the credit token. Writes are sent by whichever <see cref="TransactionSender"/> owns the acting key.</summary>
public sealed class ComputeCreditClient(ChainRpc rpc, string creditAddress)
{
    public string CreditAddress { get; } = creditAddress;

    public async Task<Credits> BalanceOfAsync(string account, CancellationToken cancellationToken = default) =>
        CreditsOnChain.FromUnits(await rpc.QueryAsync<BalanceOfFunction, System.Numerics.BigInteger>(
            CreditAddress, new BalanceOfFunction { Account = account }, cancellationToken));

    public async Task<Credits> AllowanceAsync(string owner, string spender, CancellationToken cancellationToken = default) =>
        CreditsOnChain.FromUnits(await rpc.QueryAsync<AllowanceFunction, System.Numerics.BigInteger>(
            CreditAddress, new AllowanceFunction { Owner = owner, Spender = spender }, cancellationToken));

    public async Task<Credits> TotalSupplyAsync(CancellationToken cancellationToken = default) =>
        CreditsOnChain.FromUnits(await rpc.QueryAsync<TotalSupplyFunction, System.Numerics.BigInteger>(
            CreditAddress, new TotalSupplyFunction(), cancellationToken));

    public Task<string> OwnerAsync(CancellationToken cancellationToken = default) =>
        rpc.QueryAsync<OwnerFunction, string>(CreditAddress, new OwnerFunction(), cancellationToken);

    /// <summary>Only the token's owner may mint; anyone else gets <c>OwnableUnauthorizedAccount</c>.</summary>
    public Task<TransactionReceipt> MintAsync(TransactionSender owner, string to, Credits amount, CancellationToken cancellationToken = default) =>
        owner.SendAsync(CreditAddress, new MintFunction { To = to, Amount = CreditsOnChain.ToUnits(amount) }, cancellationToken);

    public Task<TransactionReceipt> ApproveAsync(TransactionSender holder, string spender, Credits amount, CancellationToken cancellationToken = default) =>
        holder.SendAsync(CreditAddress, new ApproveFunction { Spender = spender, Value = CreditsOnChain.ToUnits(amount) }, cancellationToken);

    public Task<TransactionReceipt> TransferAsync(TransactionSender holder, string to, Credits amount, CancellationToken cancellationToken = default) =>
        holder.SendAsync(CreditAddress, new TransferFunction { To = to, Value = CreditsOnChain.ToUnits(amount) }, cancellationToken);
}
