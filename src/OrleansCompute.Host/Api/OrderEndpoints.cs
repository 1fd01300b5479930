using System.Security.Claims;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Orders;
using OrleansCompute.Host.Auth;

namespace OrleansCompute.Host.Api;

/// <summary>Standing orders: requests that rest until capacity appears or prices fall, then become leases to fund.</summary>
public static class OrderEndpoints
{
    public static IEndpointRouteBuilder MapOrderEndpoints(this IEndpointRouteBuilder app)
    {
        var orders = app.MapGroup("/api/orders").WithTags("Orders");
        orders.MapPost("/", PlaceAsync).RequireAuthorization()
            .Produces<StandingOrder>(StatusCodes.Status201Created)
            .WithSummary("Place a standing order: { lease: {kind, slots, hours, …}, validForMinutes }. It fills in price-time priority.");
        orders.MapGet("/", ListAsync).RequireAuthorization()
            .WithSummary("The signing tenant's orders.");
        orders.MapGet("/{id}", GetAsync)
            .WithSummary("One order; once filled it names the lease to fund.");
        orders.MapPost("/{id}/cancel", CancelAsync).RequireAuthorization()
            .WithSummary("Cancel an open order.");
        return app;
    }

    private static async Task<IResult> PlaceAsync(PlaceOrderRequest body, ClaimsPrincipal user, IGrainFactory grains)
    {
        // Binding leaves a missing lease null; the grains would fail on it, not refuse it.
        if (body.Lease is null)
            throw MarketException.Invalid("lease", "Required", "An order needs the lease it asks for: { lease: {kind, slots, hours, …}, validForMinutes }.");
        // Named as the body nests it, like every other refusal of the order's lease.
        var kind = AcceleratorCatalog.TryGet(body.Lease.Kind, out var profile)
            ? profile.Kind
            : throw MarketException.Invalid("lease.kind", "UnknownKind", $"Unknown accelerator kind '{body.Lease.Kind}'; known: {AcceleratorCatalog.KnownKinds}.");
        var order = await Book(grains, kind).PlaceAsync(user.Tenant(), body.Lease, TimeSpan.FromMinutes(body.ValidForMinutes));
        return Results.Created($"/api/orders/{order.Id}", order);
    }

    private static async Task<IReadOnlyList<StandingOrder>> ListAsync(ClaimsPrincipal user, IGrainFactory grains)
    {
        var account = await grains.GetGrain<IAccountGrain>(user.Tenant()).GetAsync();
        var orders = await Task.WhenAll(account.Orders.Select(id => FindAsync(grains, id)));
        return orders.OfType<StandingOrder>().OrderByDescending(o => o.PlacedAt).ToList();
    }

    private static async Task<StandingOrder> GetAsync(string id, IGrainFactory grains) =>
        await FindAsync(grains, id) ?? throw new MarketException(MarketError.NotFound, "UnknownOrder", $"No order '{id}'.");

    private static Task<StandingOrder> CancelAsync(string id, ClaimsPrincipal user, IGrainFactory grains)
    {
        var (orderId, kind) = Parse(id);
        return Book(grains, kind).CancelAsync(user.Tenant(), orderId);
    }

    private static Task<StandingOrder?> FindAsync(IGrainFactory grains, string id)
    {
        var (orderId, kind) = Parse(id);
        return Book(grains, kind).GetAsync(orderId);
    }

    private static (Guid OrderId, string Kind) Parse(string id) =>
        ScopedIds.TryParse(id, out var orderId, out var kind)
            ? (orderId, AcceleratorCatalog.Require(kind).Kind)
            : throw MarketException.Invalid("id", "MalformedOrderId", $"'{id}' is not an order id ({{32 hex digits}}@{{kind}}).");

    private static IOrderBookGrain Book(IGrainFactory grains, string kind) => grains.GetGrain<IOrderBookGrain>(MarketKeys.Market(kind));
}
