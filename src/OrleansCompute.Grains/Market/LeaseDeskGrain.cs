using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

/// <summary>
/// Requests for "any kind that meets the constraints": each kind that does, cheapest per token at list price first,
/// until one's market takes it; when none does, one refusal gives every kind's reason.
/// </summary>
[StatelessWorker]
public sealed class LeaseDeskGrain(IOptions<MarketOptions> options, TimeProvider clock) : Grain, ILeaseDeskGrain
{
    public async Task<LeaseSnapshot> RequestAsync(string tenant, LeaseRequest request, Credits? funds = null)
    {
        var order = LeaseOrders.Validated(tenant, request, options.Value, clock.GetUtcNow(), funds);
        var validated = order.Request;
        if (validated.Kind != LeaseRequest.AnyKind) return await Market(validated.Kind).ReserveAsync(order);

        var refusals = new List<(string Kind, MarketException Refusal)>();
        foreach (var profile in LeaseRequestRules.KindsFor(validated))
        {
            try
            {
                return await Market(profile.Kind).ReserveAsync(order with { Request = LeaseRequestRules.ForKind(validated, profile) });
            }
            // A kind the tenant cannot pay for is no reason to stop: another, cheaper per slot-hour, may fit its funds.
            catch (MarketException refused) when (refused.Error is MarketError.Conflict or MarketError.InvalidRequest or MarketError.InsufficientFunds
                                                  && refused.Field is not "start")
            {
                refusals.Add((profile.Kind, refused));
            }
        }
        throw Combined(refusals);
    }

    /// <summary>
    /// One refusal for the request, led by the kind that came nearest: one whose pools could take it but not now (full in
    /// the window, above the max price, beyond the tenant's funds) before one nobody offers or not in the region; the other
    /// kinds' reasons follow it.
    /// </summary>
    private static MarketException Combined(IReadOnlyList<(string Kind, MarketException Refusal)> refusals)
    {
        static bool NotNow(MarketException refusal) => refusal.Error is MarketError.Conflict or MarketError.InsufficientFunds;
        var lead = refusals.FirstOrDefault(r => NotNow(r.Refusal) && r.Refusal.Reason != PoolChoice.NobodyOffersKind);
        if (lead.Refusal is null) lead = refusals.FirstOrDefault(r => NotNow(r.Refusal));
        if (lead.Refusal is null) lead = refusals[0];
        if (refusals.Count == 1) return lead.Refusal;
        var others = string.Join(" ", refusals.Where(r => r.Kind != lead.Kind).Select(r => $"{r.Kind}: {r.Refusal.Message}"));
        return new MarketException(lead.Refusal.Error, lead.Refusal.Reason, $"{lead.Kind}: {lead.Refusal.Message} {others}", lead.Refusal.Field);
    }

    private IMarketGrain Market(string kind) => GrainReferences.Get<IMarketGrain>(GrainFactory, MarketKeys.Market(kind));
}
