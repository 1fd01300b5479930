using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Abstractions.Leases;

/// <summary>
/// What a lease costs: its deposit up front, and what it owes for the time or the tokens used. The market bills by it, and
/// a client checks by it that a tenant can pay before it asks for a reservation.
/// </summary>
public static class LeaseBilling
{
    /// <summary>The least a lease billed by the hour pays once it has started (the market's default).</summary>
    public static readonly TimeSpan DefaultMinimumBilled = TimeSpan.FromMinutes(1);

    public static Credits Deposit(Credits pricePerSlotHour, int slots, int hours) =>
        Credits.FromUnits(checked(pricePerSlotHour.Units * slots * hours));

    /// <summary>
    /// How many of <paramref name="slots"/> slots <paramref name="funds"/> pays the deposit of, at
    /// <paramref name="pricePerSlotHour"/> for <paramref name="hours"/>: all of them when nobody read the funds (null).
    /// </summary>
    public static int AffordableSlots(Credits? funds, Credits pricePerSlotHour, int slots, int hours)
    {
        if (funds is not { } held) return slots;
        var perSlot = (Int128)pricePerSlotHour.Units * hours;
        return perSlot <= 0 ? slots : (int)Int128.Min(slots, held.Units / perSlot);
    }

    /// <summary>
    /// Billed by the second, at least <paramref name="minimum"/>, never more than the deposit;
    /// a fraction of a unit is rounded up, in the provider's favour, by at most one unit.
    /// </summary>
    public static Credits Owed(Credits pricePerSlotHour, int slots, int hours, TimeSpan used, TimeSpan minimum)
    {
        var window = TimeSpan.FromHours(hours);
        var billed = used < minimum ? minimum : used;
        if (billed > window) billed = window;
        var seconds = (long)Math.Ceiling(billed.TotalSeconds);
        var units = (pricePerSlotHour.Units * (Int128)slots * seconds + 3599) / 3600;
        return Credits.FromUnits((long)Int128.Min(units, Deposit(pricePerSlotHour, slots, hours).Units));
    }

    /// <summary>
    /// A running lease's bill at <paramref name="now"/>: its tokens at the pool's price, or its time billed by the second (at
    /// least the market's default minimum), as ending it then would fix it. Null once it has ended (its bill is fixed
    /// then, in <see cref="LeaseSnapshot.AmountOwed"/>) and while it does not run.
    /// </summary>
    public static Credits? OwedSoFar(LeaseSnapshot lease, DateTimeOffset now) => lease switch
    {
        { EndedAt: not null } => null,
        { Request.BillBy: LeaseBillingMode.Tokens } => lease.AmountOwed,
        { Status: LeaseStatus.Active, StartedAt: { } started } =>
            Owed(lease.PricePerSlotHour, lease.Request.Slots, lease.Request.Hours, now - started, DefaultMinimumBilled),
        _ => null,
    };

    /// <summary>
    /// <paramref name="tokens"/> at <paramref name="pricePerMillionTokens"/>, a fraction of a unit rounded up, never more
    /// than <paramref name="deposit"/> (the escrow cannot pay more; the gateway stops admitting requests before that).
    /// </summary>
    public static Credits OwedForTokens(Credits pricePerMillionTokens, long tokens, Credits deposit)
    {
        var units = (pricePerMillionTokens.Units * (Int128)tokens + 999_999) / 1_000_000;
        return Credits.FromUnits((long)Int128.Min(units, deposit.Units));
    }
}
