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

    /// <summary>What the recent leases paid this provider in all, as counted in <see cref="Earned"/>; oldest first.</summary>
    [Id(6)] public List<LeasePaid> RecentLeasesPaid { get; set; } = [];
}

/// <summary>What one lease has paid a provider in all, as its account counted it.</summary>
[GenerateSerializer, Immutable, Alias("occ.lease-paid")]
public sealed record LeasePaid([property: Id(0)] Guid LeaseId, [property: Id(1)] Credits Paid);

/// <summary>A tenant's leases, a provider's pools and what the chain says it earned and withdrew.</summary>
public sealed class AccountGrain(
    [PersistentState("account", GrainStorage.Market)] IPersistentState<AccountState> state) : Grain, IAccountGrain
{
    /// <summary>
    /// How many leases' totals a provider's account remembers. A move is told again only while its lease has not stored
    /// it (the lease saves after its account), and the chain watcher hands events over one at a time, so few are ever in
    /// doubt; the bound keeps a busy provider's state, written whole at each payment, small.
    /// </summary>
    private const int RecentLeasesKept = 256;

    private HashSet<Guid>? _leaseIndex;
    private Dictionary<Guid, Credits>? _paidIndex;

    public async Task AddLeaseAsync(Guid leaseId)
    {
        // A tenant may hold thousands of leases: the index keeps the duplicate check constant-time.
        _leaseIndex ??= [.. state.State.Leases];
        if (!_leaseIndex.Add(leaseId)) return;
        state.State.Leases.Add(leaseId);
        await WriteAsync();
    }

    public async Task AddPoolAsync(string poolKey)
    {
        if (state.State.Pools.Contains(poolKey)) return;
        state.State.Pools.Add(poolKey);
        await WriteAsync();
    }

    public async Task AddOrderAsync(string orderId)
    {
        if (state.State.Orders.Contains(orderId)) return;
        state.State.Orders.Add(orderId);
        await WriteAsync();
    }

    public async Task RecordLeasePaidAsync(Guid leaseId, Credits paidBefore, Credits paid)
    {
        _paidIndex ??= state.State.RecentLeasesPaid.ToDictionary(p => p.LeaseId, p => p.Paid);
        var counted = _paidIndex.TryGetValue(leaseId, out var known) ? known : paidBefore;
        if (counted == paid) return;

        state.State.Earned += paid - counted;
        var recent = state.State.RecentLeasesPaid;
        if (_paidIndex.ContainsKey(leaseId)) recent.RemoveAll(p => p.LeaseId == leaseId);
        recent.Add(new LeasePaid(leaseId, paid));
        _paidIndex[leaseId] = paid;
        if (recent.Count > RecentLeasesKept)
        {
            _paidIndex.Remove(recent[0].LeaseId);
            recent.RemoveAt(0);
        }
        await WriteAsync();
    }

    public async Task RecordWithdrawalAsync(Credits amount, string transactionHash)
    {
        if (!state.State.WithdrawalTransactions.Add(transactionHash)) return;
        state.State.Withdrawn += amount;
        await WriteAsync();
    }

    public async Task RollBackWithdrawalAsync(Credits amount, string transactionHash)
    {
        if (!state.State.WithdrawalTransactions.Remove(transactionHash)) return;
        state.State.Withdrawn -= amount;
        await WriteAsync();
    }

    public ValueTask<AccountSnapshot> GetAsync() =>
        ValueTask.FromResult(new AccountSnapshot(this.GetPrimaryKeyString(), state.State.Leases.ToList(),
            state.State.Pools.ToList(), state.State.Earned, state.State.Withdrawn, state.State.Orders.ToList()));

    /// <summary>
    /// Stores the state; when that fails, memory goes back to what the store holds, so that the caller's retry finds the
    /// change not made (and makes it) rather than made in memory only (and skips it).
    /// </summary>
    private async Task WriteAsync()
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            _leaseIndex = null;
            _paidIndex = null;
            try
            {
                await state.ReadStateAsync();
            }
            catch
            {
                // The store cannot be read either: a fresh activation reads it when it can.
                this.DeactivateOnIdle();
            }
            throw;
        }
    }
}
