using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;

namespace OrleansCompute.Grains.Accounts;

[GenerateSerializer, Alias("occ.account-state")]
public sealed class AccountState
{
    [Id(0)] public List<Guid> Leases { get; set; } = [];
    [Id(1)] public List<string> Pools { get; set; } = [];
    [Id(2)] public Credits Earned { get; set; }
    [Id(3)] public Credits Withdrawn { get; set; }
    [Id(4)] public List<string> Orders { get; set; } = [];
    [Id(5)] public HashSet<string> WithdrawalTransactions { get; set; } = [];
}

/// <summary>A tenant's leases, a provider's pools and what the chain says it earned and withdrew.</summary>
public sealed class AccountGrain(
    [PersistentState("account", GrainStorage.Market)] IPersistentState<AccountState> state) : Grain, IAccountGrain
{
    private HashSet<Guid>? _leaseIndex;

    public async Task AddLeaseAsync(Guid leaseId)
    {
        // A tenant may hold thousands of leases: the index keeps the duplicate check constant-time.
        _leaseIndex ??= [.. state.State.Leases];
        if (!_leaseIndex.Add(leaseId)) return;
        state.State.Leases.Add(leaseId);
        await state.WriteStateAsync();
    }

    public async Task AddPoolAsync(string poolKey)
    {
        if (state.State.Pools.Contains(poolKey)) return;
        state.State.Pools.Add(poolKey);
        await state.WriteStateAsync();
    }

    public async Task AddOrderAsync(string orderId)
    {
        if (state.State.Orders.Contains(orderId)) return;
        state.State.Orders.Add(orderId);
        await state.WriteStateAsync();
    }

    public async Task RecordEarningAsync(Credits amount)
    {
        state.State.Earned += amount;
        await state.WriteStateAsync();
    }

    public async Task RecordWithdrawalAsync(Credits amount, string transactionHash)
    {
        if (!state.State.WithdrawalTransactions.Add(transactionHash)) return;
        state.State.Withdrawn += amount;
        await state.WriteStateAsync();
    }

    public async Task RollBackEarningAsync(Credits amount)
    {
        state.State.Earned -= amount;
        await state.WriteStateAsync();
    }

    public async Task RollBackWithdrawalAsync(Credits amount, string transactionHash)
    {
        if (!state.State.WithdrawalTransactions.Remove(transactionHash)) return;
        state.State.Withdrawn -= amount;
        await state.WriteStateAsync();
    }

    public ValueTask<AccountSnapshot> GetAsync() =>
        ValueTask.FromResult(new AccountSnapshot(this.GetPrimaryKeyString(), state.State.Leases.ToList(),
            state.State.Pools.ToList(), state.State.Earned, state.State.Withdrawn, state.State.Orders.ToList()));
}
