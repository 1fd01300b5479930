using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

/// <summary>
/// Requests for "any kind that meets the constraints": each kind that does, cheapest per token at list price first,
/// until one's market takes it; when none does, the first kind's refusal says why.
/// </summary>
[StatelessWorker]
public sealed class LeaseDeskGrain(IOptions<MarketOptions> options, TimeProvider clock) : Grain, ILeaseDeskGrain
{
    public async Task<LeaseSnapshot> RequestAsync(string tenant, LeaseRequest request)
    {
        var order = LeaseOrders.Validated(tenant, request, options.Value, clock.GetUtcNow());
        var validated = order.Request;
        if (validated.Kind != LeaseRequest.AnyKind) return await Market(validated.Kind).ReserveAsync(order);

        MarketException? firstRefusal = null;
        foreach (var profile in LeaseRequestRules.KindsFor(validated))
        {
            try
            {
                return await Market(profile.Kind).ReserveAsync(order with { Request = LeaseRequestRules.ForKind(validated, profile) });
            }
            catch (MarketException refused) when (refused.Error is MarketError.Conflict or MarketError.InvalidRequest && refused.Field is not "start")
            {
                firstRefusal ??= refused;
            }
        }
        throw firstRefusal!;
    }

    private IMarketGrain Market(string kind) => GrainReferences.Get<IMarketGrain>(GrainFactory, MarketKeys.Market(kind));
}
