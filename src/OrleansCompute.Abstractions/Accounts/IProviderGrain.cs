namespace OrleansCompute.Abstractions.Accounts;

/// <summary>
/// A provider id (the <c>provider</c> in its pools' keys, keyed by it) and the address that owns it: the payout address of
/// its first pool. Every further pool under the id pays that address, whose key signs pool changes, so nobody can offer
/// capacity in another provider's name.
/// </summary>
public interface IProviderGrain : IGrainWithStringKey
{
    /// <summary>
    /// Records a new pool of this provider that pays <paramref name="payoutAddress"/>. The first pool's address becomes the
    /// provider's; a pool that would pay any other is refused (<c>NotYourProvider</c>) and nothing is recorded.
    /// </summary>
    Task AddPoolAsync(string poolKey, string payoutAddress);

    [ReadOnly]
    ValueTask<ProviderSnapshot> GetAsync();
}

/// <summary>A provider: the address its pools pay (null while it has none) and its pools' keys.</summary>
[GenerateSerializer, Immutable, Alias("occ.provider-snapshot")]
public sealed record ProviderSnapshot(
    [property: Id(0)] string ProviderId,
    [property: Id(1)] string? PayoutAddress,
    [property: Id(2)] IReadOnlyList<string> Pools);
