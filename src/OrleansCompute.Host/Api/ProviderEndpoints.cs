using System.Security.Claims;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Host.Auth;

namespace OrleansCompute.Host.Api;

/// <summary>
/// Provider operations, signed with the pool's payout key (the same request signature tenants use):
/// define a pool or change its size and prices, and drain a slot.
/// </summary>
public static class ProviderEndpoints
{
    public static IEndpointRouteBuilder MapProviderEndpoints(this IEndpointRouteBuilder app)
    {
        var pools = app.MapGroup("/api/pools").WithTags("Providers");
        pools.MapPut("/{provider}/{pool}", DefineAsync).RequireAuthorization()
            .WithSummary("Create a pool, or add or remove slots and change its floor and ceiling prices (never below the slots booked).");
        pools.MapPost("/{provider}/{pool}/slots/{index:int}/drain", DrainAsync).RequireAuthorization()
            .WithSummary("Take a slot out of service: no new bookings; its leases get the notice, then move to a free slot or end billed pro rata.");
        return app;
    }

    private static async Task<PoolSnapshot> DefineAsync(string provider, string pool, PoolDefinition definition, ClaimsPrincipal user, IGrainFactory grains)
    {
        // The body first: a pool's owner is its payout address, so a missing or malformed one cannot be checked for
        // ownership (it would fail, or answer 403 for what is a bad request). The pool grain checks the rest.
        if (!MarketKeys.IsValidName(definition.ProviderId))
            throw MarketException.Invalid("providerId", "InvalidName", "Provider ids are 1-64 lowercase letters, digits or dashes.");
        if (!MarketKeys.IsValidName(definition.PoolName))
            throw MarketException.Invalid("poolName", "InvalidName", "Pool names are 1-64 lowercase letters, digits or dashes.");
        if (!AccountKeys.IsAddress(definition.PayoutAddress))
            throw MarketException.Invalid("payoutAddress", "MalformedAddress", definition.PayoutAddress is null
                ? "A pool needs its payoutAddress: the Ethereum address it is paid to, whose key signs its changes."
                : $"'{definition.PayoutAddress}' is not an Ethereum address.");
        if (definition.ProviderId != provider || definition.PoolName != pool)
            throw MarketException.Invalid("poolName", "KeyMismatch", $"The body defines {definition.PoolKey}, the route names {provider}/{pool}.");
        var grain = grains.GetGrain<IPoolGrain>(MarketKeys.Pool(provider, pool));
        var owner = (await grain.GetAsync()).Definition?.PayoutAddress ?? definition.PayoutAddress;
        RequireOwner(user, owner);
        await grain.DefineAsync(definition);
        return await grain.GetAsync();
    }

    private static async Task<DrainResponse> DrainAsync(string provider, string pool, int index, DrainRequest body, ClaimsPrincipal user, IGrainFactory grains)
    {
        var grain = grains.GetGrain<IPoolGrain>(MarketKeys.Pool(provider, pool));
        var definition = (await grain.GetAsync()).Definition
            ?? throw new MarketException(MarketError.NotFound, "UnknownPool", $"No pool '{provider}/{pool}'.");
        RequireOwner(user, definition.PayoutAddress);
        var leases = await grain.DrainSlotAsync(index, TimeSpan.FromMinutes(body.NoticeMinutes));
        return new DrainResponse(MarketKeys.Slot(definition.PoolKey, index), body.NoticeMinutes, leases);
    }

    private static void RequireOwner(ClaimsPrincipal user, string payoutAddress)
    {
        if (user.Tenant() != AccountKeys.Normalize(payoutAddress))
            throw new MarketException(MarketError.NotYourLease, "NotYourPool", "Only the pool's provider (its payout address) may change it.");
    }
}

/// <summary>The body of a drain: how long the slot's leases have before they move or end.</summary>
public sealed record DrainRequest(int NoticeMinutes = 10);

/// <summary>A drained slot (its key, provider/pool/index), the notice its leases got, and the leases it held (ids).</summary>
public sealed record DrainResponse(string Slot, int NoticeMinutes, IReadOnlyList<Guid> Leases);
