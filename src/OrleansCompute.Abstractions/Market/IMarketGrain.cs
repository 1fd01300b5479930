namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// The market for one accelerator kind (keyed by kind): lists its pools' offers and matches a request
/// to the cheapest pool that can take it whole. It holds only the pool directory; slots and pools
/// decide, so concurrent requests interleave here and serialize only per pool.
/// </summary>
public interface IMarketGrain : IGrainWithStringKey
{
    Task RegisterPoolAsync(PoolDefinition pool);

    [ReadOnly]
    Task<IReadOnlyList<Offer>> GetOffersAsync(string? region);

    /// <summary>Reserves the request in the cheapest pool that fits, or throws a <see cref="MarketException"/> saying why none does.</summary>
    Task<PoolReservation> ReserveAsync(Guid leaseId, LeaseRequest request, DateTimeOffset holdUntil);

    [ReadOnly]
    ValueTask<MarketSnapshot> GetAsync();
}

[GenerateSerializer, Immutable, Alias("occ.market-snapshot")]
public sealed record MarketSnapshot(
    [property: Id(0)] string Kind,
    [property: Id(1)] IReadOnlyList<PoolDefinition> Pools);
