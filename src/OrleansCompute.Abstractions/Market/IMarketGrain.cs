using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Abstractions.Market;

/// <summary>
/// The market for one accelerator kind (keyed by kind): lists its pools' offers and matches a request
/// to the cheapest pool, at its live price, that can take it whole. It holds only the pool directory; slots and pools
/// decide, so concurrent requests interleave here and serialize only per pool.
/// </summary>
public interface IMarketGrain : IGrainWithStringKey
{
    /// <summary>Lists (or updates) a pool in this market's directory.</summary>
    Task RegisterPoolAsync(PoolDefinition pool, PoolStatus status);

    /// <summary>A pool's live price and free capacity after a change; a hint for ordering candidates, the pool still decides.</summary>
    [OneWay]
    Task ReportAsync(PoolStatus status);

    [ReadOnly]
    Task<IReadOnlyList<Offer>> GetOffersAsync(string? region);

    /// <summary>
    /// Reserves a lease for <paramref name="tenant"/> in the cheapest pool of this kind that fits, or throws a
    /// <see cref="MarketException"/> saying why none does and what would (the price it would take, or the nearest window with room).
    /// With <paramref name="funds"/> (see <see cref="LeaseOrder.Funds"/>), only a deposit the tenant can pay.
    /// </summary>
    Task<LeaseSnapshot> RequestAsync(string tenant, LeaseRequest request, Credits? funds = null);

    /// <summary>As <see cref="RequestAsync"/>, for an order already validated for this kind.</summary>
    Task<LeaseSnapshot> ReserveAsync(LeaseOrder order);

    /// <summary>The cheapest pool's quote for the request's window, or a <see cref="MarketException"/> saying why none can give one.</summary>
    Task<Quote> QuoteAsync(LeaseRequest request);

    [ReadOnly]
    ValueTask<MarketSnapshot> GetAsync();
}

[GenerateSerializer, Immutable, Alias("occ.market-snapshot")]
public sealed record MarketSnapshot(
    [property: Id(0)] string Kind,
    [property: Id(1)] IReadOnlyList<PoolDefinition> Pools,
    [property: Id(2)] IReadOnlyList<PoolStatus> LastReported);
