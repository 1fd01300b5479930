using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Abstractions.Orders;

/// <summary>
/// The standing orders for one accelerator kind (keyed by kind). It fills them in price-time priority — the highest
/// max price first (an order without one first of all), then the earliest — whenever capacity appears or prices fall.
/// </summary>
public interface IOrderBookGrain : IGrainWithStringKey
{
    /// <summary>Places the order (it may fill at once) and returns it; a bad request is refused and nothing rests.</summary>
    Task<StandingOrder> PlaceAsync(string tenant, LeaseRequest request, TimeSpan validFor);

    /// <summary>Cancels an open order of <paramref name="tenant"/>; a filled, expired or someone else's order is refused.</summary>
    Task<StandingOrder> CancelAsync(string tenant, Guid orderId);

    [ReadOnly]
    Task<StandingOrder?> GetAsync(Guid orderId);

    /// <summary>Every order in the book, open first in the order they will be filled.</summary>
    [ReadOnly]
    Task<IReadOnlyList<StandingOrder>> ListAsync();
}
