// What a model-based run of the market knows it created (every lease and standing order and who owns it, every slot
// drained) and the invariants the grains must keep against it, whatever ran in between, restarts included.
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Orders;

namespace OrleansCompute.Grains.Tests.Infrastructure;

public sealed class KnownLease(LeaseSnapshot first, Tenant owner, int number, string? orderId)
{
    public Guid Id => First.Id;

    /// <summary>The lease as first seen: its terms (pool, price, deposit, escrow expiry) never change after.</summary>
    public LeaseSnapshot First { get; } = first;

    public Tenant Owner { get; } = owner;

    /// <summary>Its place in the run, as the steps name it (lease #n).</summary>
    public int Number { get; } = number;

    /// <summary>The standing order it filled, if it came from one.</summary>
    public string? OrderId { get; } = orderId;

    /// <summary>The lease at the last observation that passed every check.</summary>
    public LeaseSnapshot Last { get; set; } = first;

    public override string ToString() => $"lease #{Number} ({LeaseIds.Format(Id)[..8]})";
}

public sealed class KnownOrder(StandingOrder placed, Tenant owner, int number)
{
    public StandingOrder Placed { get; } = placed;

    public Tenant Owner { get; } = owner;

    public int Number { get; } = number;

    public Guid Id => ScopedIds.TryParse(Placed.Id, out var id, out _) ? id : throw new InvalidOperationException(Placed.Id);

    public StandingOrder Last { get; set; } = placed;

    /// <summary>The tenant's cancel was accepted: the order must stay Cancelled.</summary>
    public bool CancelledByTenant { get; set; }

    public override string ToString() => $"order #{Number} ({Placed.Id[..8]})";
}

public sealed record PoolView(PoolDefinition Definition, PoolSnapshot Pool, IReadOnlyList<SlotSnapshot> Slots);

/// <summary>Everything the checks look at, read from the grains at one moment (pools before leases: see <see cref="MarketModel.ObserveAsync"/>).</summary>
public sealed record Observation(
    DateTimeOffset At,
    IReadOnlyList<PoolView> Pools,
    IReadOnlyList<Offer> Offers,
    IReadOnlyList<StandingOrder> Book,
    IReadOnlyDictionary<Guid, LeaseSnapshot?> Leases,
    IReadOnlyDictionary<string, AccountSnapshot> Accounts);

public sealed class MarketModel(string region, IReadOnlyList<PoolDefinition> pools, IReadOnlyList<Tenant> tenants)
{
    /// <summary>How late a deadline may act: a timer's turn, a few grain calls, a busy machine.</summary>
    public static readonly TimeSpan Lateness = TimeSpan.FromSeconds(1);

    public string Region { get; } = region;

    public IReadOnlyList<PoolDefinition> Pools { get; } = pools;

    public IReadOnlyList<Tenant> Tenants { get; } = tenants;

    public string Kind => Pools[0].Kind;

    public List<KnownLease> Leases { get; } = [];

    public List<KnownOrder> Orders { get; } = [];

    /// <summary>Slot key → when the first notice to vacate it runs out, at the latest.</summary>
    public Dictionary<string, DateTimeOffset> Drained { get; } = [];

    /// <summary>The lease <paramref name="back"/> places before the newest (wrapping round), or null before the first.</summary>
    public KnownLease? LeaseAt(int back) => Leases.Count == 0 ? null : Leases[^(1 + back % Leases.Count)];

    public KnownOrder? OrderAt(int back) => Orders.Count == 0 ? null : Orders[^(1 + back % Orders.Count)];

    public KnownLease AddLease(LeaseSnapshot lease, Tenant owner, string? orderId = null)
    {
        var known = new KnownLease(lease, owner, Leases.Count, orderId);
        Leases.Add(known);
        return known;
    }

    public KnownOrder AddOrder(StandingOrder order, Tenant owner)
    {
        var known = new KnownOrder(order, owner, Orders.Count);
        Orders.Add(known);
        return known;
    }

    public string Name(Guid leaseId) => Leases.FirstOrDefault(l => l.Id == leaseId)?.ToString() ?? $"unknown lease {LeaseIds.Format(leaseId)[..8]}";

    public string Name(Tenant tenant) => $"tenant {Tenants.ToList().IndexOf(tenant)}";

    /// <summary>A standing order of this run (its region is the run's own).</summary>
    public bool IsOurs(StandingOrder order) => order.Request.Region == Region;

    /// <summary>
    /// Reads pools and slots first, then the order book, then the leases. A lease releases its slots before it records
    /// the transition and an order book records a fill after the lease exists, so whatever a pool shows is already
    /// explained by what is read after it, or shows up as a difference that the next observation clears.
    /// </summary>
    public async Task<Observation> ObserveAsync(IGrainFactory grains)
    {
        var at = DateTimeOffset.UtcNow;
        var pools = await Task.WhenAll(Pools.Select(p => ReadPoolAsync(grains, p)));
        var offers = await grains.GetGrain<IMarketGrain>(MarketKeys.Market(Kind)).GetOffersAsync(Region);
        var book = await grains.GetGrain<IOrderBookGrain>(Kind).ListAsync();
        var ids = Leases.Select(l => l.Id)
            .Concat(book.Where(IsOurs).Select(o => o.LeaseId).OfType<Guid>())
            .Distinct();
        var leases = await Task.WhenAll(ids.Select(async id => (id, lease: await grains.GetGrain<ILeaseGrain>(id).GetAsync())));
        var accounts = await Task.WhenAll(Tenants.Select(t =>
            grains.GetGrain<IAccountGrain>(AccountKeys.Normalize(t.Address)).GetAsync().AsTask()));
        return new Observation(at, pools, offers, book.Where(IsOurs).ToList(),
            leases.ToDictionary(l => l.id, l => l.lease), accounts.ToDictionary(a => a.Address));
    }

    /// <summary>The pool, then its slots, then the pool again, until no booking moved in between.</summary>
    private static async Task<PoolView> ReadPoolAsync(IGrainFactory grains, PoolDefinition definition)
    {
        var pool = grains.GetGrain<IPoolGrain>(definition.PoolKey);
        for (var attempt = 0; ; attempt++)
        {
            var before = await pool.GetAsync();
            var slots = await Task.WhenAll(Enumerable.Range(0, definition.SlotCount)
                .Select(i => grains.GetGrain<ISlotGrain>(MarketKeys.Slot(definition.PoolKey, i)).GetAsync().AsTask()));
            var after = await pool.GetAsync();
            if (SameBookings(before, after) || attempt == 10) return new PoolView(definition, after, slots);
        }
    }

    private static bool SameBookings(PoolSnapshot a, PoolSnapshot b) =>
        a.Draining.SequenceEqual(b.Draining) && a.Bookings.Count == b.Bookings.Count &&
        a.Bookings.All(x => b.Bookings.TryGetValue(x.Key, out var other) && x.Value.SequenceEqual(other));

    /// <summary>Every invariant the observation breaks, in words; none when it holds. <paramref name="settled"/>: the run is over and every deadline has passed.</summary>
    public IReadOnlyList<string> Violations(Observation seen, bool settled)
    {
        var violations = new List<string>();
        var bookings = PoolViolations(seen, violations);
        OrderViolations(seen, settled, violations);
        LeaseViolations(seen, settled, bookings, violations);
        AccountViolations(seen, violations);
        return violations;
    }

    /// <summary>Checks calendars, mirrors, prices and drains; returns lease id → the slots booked for it and how.</summary>
    private Dictionary<Guid, List<(string SlotKey, SlotBooking Booking)>> PoolViolations(Observation seen, List<string> violations)
    {
        var byLease = new Dictionary<Guid, List<(string, SlotBooking)>>();
        foreach (var view in seen.Pools)
        {
            var (definition, pool) = (view.Definition, view.Pool);
            if (pool.Definition != definition) violations.Add($"{definition.PoolKey} changed its definition to {pool.Definition}");
            if (pool.PricePerSlotHour < definition.FloorPricePerSlotHour || pool.PricePerSlotHour > definition.Ceiling)
                violations.Add($"{definition.PoolKey} asks {pool.PricePerSlotHour}, outside [{definition.FloorPricePerSlotHour}, {definition.Ceiling}]");
            foreach (var index in pool.Bookings.Keys.Where(i => i < 0 || i >= definition.SlotCount))
                violations.Add($"{definition.PoolKey} books slot {index}, which it does not have");

            for (var index = 0; index < definition.SlotCount; index++)
            {
                var key = MarketKeys.Slot(definition.PoolKey, index);
                var calendar = Live(view.Slots[index].Calendar, seen.At);
                var mirror = Live(pool.Bookings.GetValueOrDefault(index) ?? [], seen.At);
                for (var i = 0; i < calendar.Count; i++)
                for (var j = i + 1; j < calendar.Count; j++)
                {
                    if (calendar[i].Window.Overlaps(calendar[j].Window))
                        violations.Add($"{key} is booked twice for the same time: {Show(calendar[i])} and {Show(calendar[j])}");
                }
                if (!mirror.ToHashSet().SetEquals(calendar))
                    violations.Add($"{key}: the pool's calendar [{string.Join("; ", mirror.Select(Show))}] is not the slot's [{string.Join("; ", calendar.Select(Show))}]");
                foreach (var booking in calendar)
                {
                    if (!seen.Leases.ContainsKey(booking.LeaseId))
                        violations.Add($"{key} is booked by {Name(booking.LeaseId)}, which no tenant was given and no order filled");
                    (byLease.TryGetValue(booking.LeaseId, out var held) ? held : byLease[booking.LeaseId] = []).Add((key, booking));
                }
                if (Drained.TryGetValue(key, out var vacateBy))
                {
                    if (!pool.Draining.Contains(index)) violations.Add($"{key} was drained, yet the pool does not list it as draining");
                    if (vacateBy + Lateness < seen.At && calendar.Count > 0)
                        violations.Add($"{key}'s notice ran out at {vacateBy:HH:mm:ss.fff}, yet it still holds [{string.Join("; ", calendar.Select(Show))}]");
                }
            }
        }

        if (seen.Offers.Count != Pools.Count)
            violations.Add($"the market offers {seen.Offers.Count} pool(s) in {Region}; {Pools.Count} were defined");
        foreach (var offer in seen.Offers)
        {
            if (Pools.FirstOrDefault(p => p.PoolKey == offer.PoolKey) is not { } definition)
            {
                violations.Add($"the market offers {offer.PoolKey}, which was never defined in {Region}");
                continue;
            }
            if (offer.PricePerSlotHour < definition.FloorPricePerSlotHour || offer.PricePerSlotHour > definition.Ceiling)
                violations.Add($"the offer of {offer.PoolKey} asks {offer.PricePerSlotHour}, outside [{definition.FloorPricePerSlotHour}, {definition.Ceiling}]");
            if (offer.AvailableSlots < 0 || offer.AvailableSlots > definition.SlotCount)
                violations.Add($"the offer of {offer.PoolKey} has {offer.AvailableSlots} of {definition.SlotCount} slots available");
        }
        return byLease;
    }

    private void OrderViolations(Observation seen, bool settled, List<string> violations)
    {
        foreach (var order in seen.Book.Where(o => Orders.All(known => known.Placed.Id != o.Id)))
            violations.Add($"order {order.Id[..8]} of {order.Tenant} rests in the book, though no placement returned it");

        foreach (var known in Orders)
        {
            if (seen.Book.FirstOrDefault(o => o.Id == known.Placed.Id) is not { } order)
            {
                violations.Add($"{known} of {Name(known.Owner)} is lost");
                continue;
            }
            if (order.Tenant != known.Placed.Tenant || order.Request != known.Placed.Request || order.ExpiresAt != known.Placed.ExpiresAt)
                violations.Add($"{known} changed its terms: {order}");
            if (known.Last.Status != OrderStatus.Open && order.Status != known.Last.Status)
                violations.Add($"{known} went from {known.Last.Status} to {order.Status}");
            if (known.Last.LeaseId is { } filledInto && order.LeaseId != filledInto)
                violations.Add($"{known} filled into lease {LeaseIds.Format(filledInto)}, and now names {(order.LeaseId is { } other ? "lease " + LeaseIds.Format(other) : "no lease")}: filled twice");
            if (order.Status == OrderStatus.Cancelled && !known.CancelledByTenant)
                violations.Add($"{known} is Cancelled ({order.Reason}), though its tenant never cancelled it");
            if (known.CancelledByTenant && order.Status != OrderStatus.Cancelled)
                violations.Add($"{known} was cancelled, yet it is {order.Status}");
            if (order.Status == OrderStatus.Expired && order.ExpiresAt > seen.At)
                violations.Add($"{known} expired before {order.ExpiresAt:HH:mm:ss.fff}");
            if (order.Status == OrderStatus.Open && order.ExpiresAt + Lateness < seen.At)
                violations.Add($"{known} is still Open ({order.Reason}) past its expiry at {order.ExpiresAt:HH:mm:ss.fff}");
            if (settled && order.Status == OrderStatus.Open)
                violations.Add($"{known} is still Open after its tenant cancelled every open order");
            if (order.Status != OrderStatus.Filled) continue;

            if (order.LeaseId is not { } leaseId)
            {
                violations.Add($"{known} is Filled without a lease");
                continue;
            }
            if (seen.Leases.GetValueOrDefault(leaseId) is not { } lease) continue; // reported as a lost lease below
            if (lease.Tenant != order.Tenant)
                violations.Add($"{known} of {order.Tenant} filled into a lease of {lease.Tenant}");
            if (lease.Request with { Kind = order.Request.Kind } != order.Request)
                violations.Add($"{known} asked for {order.Request}, its lease holds {lease.Request}");
        }
    }

    private void LeaseViolations(Observation seen, bool settled,
        Dictionary<Guid, List<(string SlotKey, SlotBooking Booking)>> bookings, List<string> violations)
    {
        foreach (var (id, lease) in seen.Leases)
        {
            var known = Leases.FirstOrDefault(l => l.Id == id);
            var name = known?.ToString() ?? $"the lease {LeaseIds.Format(id)[..8]} an order filled";
            if (lease is null)
            {
                violations.Add($"{name} is lost");
                continue;
            }
            if (known is not null)
            {
                if (lease.Tenant != AccountKeys.Normalize(known.Owner.Address))
                    violations.Add($"{name} of {Name(known.Owner)} now belongs to {lease.Tenant}");
                if (lease.PoolKey != known.First.PoolKey || lease.Request != known.First.Request || lease.Deposit != known.First.Deposit ||
                    lease.PricePerSlotHour != known.First.PricePerSlotHour || lease.EscrowExpiry != known.First.EscrowExpiry)
                    violations.Add($"{name} changed its terms: pool {lease.PoolKey}, {lease.Request}, {lease.PricePerSlotHour}/slot-hour, deposit {lease.Deposit}");
                if (!CanMove(known.Last.Status, lease.Status))
                    violations.Add($"{name} went from {known.Last.Status} to {lease.Status} ({lease.History[^1].Reason})");
            }
            if (lease.Status == LeaseStatus.Requested) violations.Add($"{name} is stuck in Requested");
            if (lease.History.Count == 0 || lease.History[^1].Status != lease.Status)
                violations.Add($"{name} is {lease.Status}, but its history ends in {lease.History.LastOrDefault()?.Status}");

            if (Pools.FirstOrDefault(p => p.PoolKey == lease.PoolKey) is not { } pool)
            {
                violations.Add($"{name} is in {lease.PoolKey}, not a pool of {Region}");
                continue;
            }
            if (lease.PricePerSlotHour < pool.FloorPricePerSlotHour || lease.PricePerSlotHour > pool.Ceiling)
                violations.Add($"{name} pays {lease.PricePerSlotHour}, outside {pool.PoolKey}'s [{pool.FloorPricePerSlotHour}, {pool.Ceiling}]");
            if (lease.Request.MaxPricePerSlotHour is { } max && lease.PricePerSlotHour > max)
                violations.Add($"{name} pays {lease.PricePerSlotHour}, above its max price {max}");
            if (lease.Deposit != LeaseBilling.Deposit(lease.PricePerSlotHour, lease.Request.Slots, lease.Request.Hours))
                violations.Add($"{name} asks a deposit of {lease.Deposit} for {lease.Request.Slots} slot(s) × {lease.Request.Hours} h at {lease.PricePerSlotHour}");

            var held = bookings.GetValueOrDefault(id) ?? [];
            if (lease.Status is LeaseStatus.Reserved or LeaseStatus.Funded or LeaseStatus.Active)
            {
                var funded = lease.Status != LeaseStatus.Reserved;
                if (lease.SlotKeys.Distinct().Count() != lease.Request.Slots)
                    violations.Add($"{name} asked for {lease.Request.Slots} slot(s) and names {string.Join(", ", lease.SlotKeys)}");
                if (!held.Select(h => h.SlotKey).ToHashSet().SetEquals(lease.SlotKeys))
                    violations.Add($"{name} ({lease.Status}) names {string.Join(", ", lease.SlotKeys)}; the calendars book it on {string.Join(", ", held.Select(h => h.SlotKey))}");
                foreach (var (slotKey, booking) in held)
                {
                    var expected = funded
                        ? new SlotBooking(id, LeaseWindow.From(lease.EndsAt!.Value - TimeSpan.FromHours(lease.Request.Hours), TimeSpan.FromHours(lease.Request.Hours)), null)
                        : new SlotBooking(id, lease.BookedWindow!.Value, lease.FundBy);
                    if (booking != expected)
                        violations.Add($"{name} ({lease.Status}) is booked on {slotKey} as {Show(booking)}, expected {Show(expected)}");
                }
                foreach (var reclaim in lease.Reclaims.Where(r => r.At + Lateness < seen.At))
                    violations.Add($"{name} ({lease.Status}) still waits to leave {reclaim.SlotKey}, due at {reclaim.At:HH:mm:ss.fff}");
            }
            else if (held.Count > 0)
            {
                violations.Add($"{name} is {lease.Status}, yet holds {string.Join(", ", held.Select(h => h.SlotKey))}");
            }

            if (lease.Status == LeaseStatus.Reserved && lease.FundBy + Lateness < seen.At)
                violations.Add($"{name} is still Reserved past its funding deadline {lease.FundBy:HH:mm:ss.fff}");
            if (lease.Status == LeaseStatus.Funded && lease.StartsAt + Lateness < seen.At)
                violations.Add($"{name} is still Funded past its start {lease.StartsAt:HH:mm:ss.fff}");
            if (lease.Status == LeaseStatus.Active && lease.EndsAt + Lateness < seen.At)
                violations.Add($"{name} is still Active past its end {lease.EndsAt:HH:mm:ss.fff}");
            if (settled && lease.Status is LeaseStatus.Requested or LeaseStatus.Reserved)
                violations.Add($"{name} is still {lease.Status} after every funding window ran out: it was neither funded, released nor expired");
        }
    }

    private void AccountViolations(Observation seen, List<string> violations)
    {
        foreach (var tenant in Tenants)
        {
            var account = seen.Accounts[AccountKeys.Normalize(tenant.Address)];
            foreach (var lease in Leases.Where(l => l.Owner == tenant).Where(l => !account.Leases.Contains(l.Id)))
                violations.Add($"{lease} is missing from the account of its {Name(tenant)}");
            foreach (var order in Orders.Where(o => o.Owner == tenant).Where(o => !account.Orders.Contains(o.Placed.Id)))
                violations.Add($"{order} is missing from the account of its {Name(tenant)}");
        }
    }

    /// <summary>Takes an observation that broke nothing as the new last-seen state, and learns the leases orders filled into.</summary>
    public void Accept(Observation seen)
    {
        foreach (var known in Orders)
        {
            known.Last = seen.Book.First(o => o.Id == known.Placed.Id);
            if (known.Last.LeaseId is { } leaseId && Leases.All(l => l.Id != leaseId))
                AddLease(seen.Leases[leaseId]!, known.Owner, known.Placed.Id);
        }
        foreach (var known in Leases) known.Last = seen.Leases[known.Id]!;
    }

    /// <summary>Whether a lease may be seen at <paramref name="to"/> after <paramref name="from"/>: forward only.</summary>
    private static bool CanMove(LeaseStatus from, LeaseStatus to) => from == to || (from, to) switch
    {
        (LeaseStatus.Reserved, not LeaseStatus.Requested) => true,
        (LeaseStatus.Funded, LeaseStatus.Active or LeaseStatus.Ended) => true,
        (LeaseStatus.Active, LeaseStatus.Ended) => true,
        (LeaseStatus.Ended, LeaseStatus.Settled) => true,
        // An escrow that arrives after the reservation is gone fails the lease, so that its refund can still be recorded.
        (LeaseStatus.Cancelled or LeaseStatus.Expired, LeaseStatus.Failed) => true,
        (LeaseStatus.Failed, LeaseStatus.Refunded) => true,
        _ => false,
    };

    private static List<SlotBooking> Live(IEnumerable<SlotBooking> bookings, DateTimeOffset at) =>
        bookings.Where(b => b.Window.End > at).ToList();

    private string Show(SlotBooking booking) =>
        $"{Name(booking.LeaseId)} {booking.Window.Start:HH:mm:ss.fff}–{booking.Window.End:HH:mm:ss.fff}" +
        (booking.HoldUntil is { } hold ? $" held until {hold:HH:mm:ss.fff}" : " funded");
}
