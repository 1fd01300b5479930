using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Accounts;

[GenerateSerializer, Alias("occ.provider-state")]
public sealed class ProviderState
{
    /// <summary>Lowercase, as account keys are; null until the provider's first pool.</summary>
    [Id(0)] public string? PayoutAddress { get; set; }
    [Id(1)] public List<string> Pools { get; set; } = [];
}

/// <summary>Which address a provider id belongs to, cluster-wide and persisted: the one authority on who may add pools under it.</summary>
public sealed class ProviderGrain(
    [PersistentState("provider", GrainStorage.Market)] IPersistentState<ProviderState> state) : Grain, IProviderGrain
{
    private string ProviderId => this.GetPrimaryKeyString();

    public async Task AddPoolAsync(string poolKey, string payoutAddress)
    {
        var address = AccountKeys.Normalize(payoutAddress);
        var owner = state.State.PayoutAddress ?? await OwnerOfPoolsBeforeProvidersWereKeptAsync(address);
        if (owner != address)
            throw new MarketException(MarketError.NotYourLease, "NotYourProvider",
                $"Provider '{ProviderId}' is paid at {owner}; only its key may add pools under its id (choose another provider id for pools paid elsewhere).",
                "providerId");
        if (state.State.PayoutAddress == address && state.State.Pools.Contains(poolKey)) return;
        state.State.PayoutAddress = address;
        if (!state.State.Pools.Contains(poolKey)) state.State.Pools.Add(poolKey);
        await state.WriteStateAsync();
    }

    /// <summary>
    /// A market kept from before providers were recorded has pools under ids no provider grain holds: the id belongs to
    /// the address those pools pay (any of them, should they differ), not to whoever adds the next pool. Asked once per id,
    /// on its first new pool since; the markets' directories hold every pool.
    /// </summary>
    private async Task<string> OwnerOfPoolsBeforeProvidersWereKeptAsync(string claimant)
    {
        var markets = await Task.WhenAll(AcceleratorCatalog.All.Select(p => GrainFactory.GetGrain<IMarketGrain>(MarketKeys.Market(p.Kind)).GetAsync().AsTask()));
        var paid = markets.SelectMany(m => m.Pools).Where(p => p.ProviderId == ProviderId)
            .Select(p => AccountKeys.Normalize(p.PayoutAddress)).Distinct().Order(StringComparer.Ordinal).ToList();
        return paid.Count == 0 || paid.Contains(claimant) ? claimant : paid[0];
    }

    public ValueTask<ProviderSnapshot> GetAsync() =>
        ValueTask.FromResult(new ProviderSnapshot(ProviderId, state.State.PayoutAddress, state.State.Pools.ToList()));
}
