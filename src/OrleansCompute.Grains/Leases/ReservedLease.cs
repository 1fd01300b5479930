using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Leases;

/// <summary>A new lease as its pool reserves it: Reserved, with the terms it must be funded on.</summary>
internal static class ReservedLease
{
    public static LeaseSnapshot Create(Guid leaseId, LeaseOrder order, PoolDefinition pool, IReadOnlyList<int> slots,
        Credits pricePerSlotHour, TimeSpan settlementGrace, DateTimeOffset now)
    {
        var asked = order.Request.Slots;
        // A partial fill is a lease for the slots it got: its deposit and bill count those.
        var request = slots.Count < asked ? order.Request with { Slots = slots.Count } : order.Request;
        var partial = request.Slots < asked;
        return new LeaseSnapshot
        {
            Id = leaseId,
            ChainLeaseId = LeaseIds.FormatChainId(leaseId),
            Status = LeaseStatus.Reserved,
            Tenant = order.Tenant,
            Request = request,
            PoolKey = pool.PoolKey,
            ProviderId = pool.ProviderId,
            ProviderAddress = AccountKeys.Normalize(pool.PayoutAddress),
            SlotKeys = slots.Select(index => MarketKeys.Slot(pool.PoolKey, index)).ToArray(),
            PricePerSlotHour = pricePerSlotHour,
            Deposit = LeaseBilling.Deposit(pricePerSlotHour, request.Slots, request.Hours),
            CreatedAt = order.RequestedAt,
            FundBy = order.FundBy,
            // Whole seconds: the chain keeps the expiry as a unix timestamp.
            EscrowExpiry = DateTimeOffset.FromUnixTimeSeconds((order.Window.End + settlementGrace).ToUnixTimeSeconds()),
            StartsAt = order.StartsAt,
            BookedWindow = order.Window,
            // An array, not a collection expression (see LeaseTransitions): records are serialized on every booking.
            History = new[]
            {
                new LeaseTransition(order.RequestedAt, LeaseStatus.Requested, LeaseReasons.Requested),
                new LeaseTransition(now, LeaseStatus.Reserved, partial ? LeaseReasons.PartialFill : LeaseReasons.SlotsReserved,
                    $"{(partial ? $"{request.Slots} of {asked}" : request.Slots)} slot(s) in {pool.PoolKey} at {pricePerSlotHour} per slot-hour" +
                    (order.StartsAt is { } s ? $" from {s.UtcDateTime:yyyy-MM-dd HH:mm:ss'Z'}" : "")),
            },
        };
    }
}
