using OrleansCompute.Abstractions.Leases;

namespace OrleansCompute.Grains;

/// <summary>The market's timing rules (section <c>Market</c> in the host's configuration).</summary>
public sealed class MarketOptions
{
    /// <summary>How long a reservation waits for its escrow on chain before its slots are released.</summary>
    public TimeSpan FundingWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long after the lease window the escrow stays open for settlement before the tenant may take it back.</summary>
    public TimeSpan SettlementGrace { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The least a lease is billed for, however soon it ends.</summary>
    public TimeSpan MinimumBilled { get; set; } = LeaseBilling.DefaultMinimumBilled;

    /// <summary>How often a pool's live price takes one step toward demand (EIP-1559's block, in effect).</summary>
    public TimeSpan PriceStepInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often at most a pool tells its market its price and free room. The market only uses them to choose which pool
    /// to ask first, so a hint this old costs at worst one wasted ask; reporting every booking would queue a message at
    /// the market per lease.
    /// </summary>
    public TimeSpan PoolReportInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How old the copy of a market's view that each silo's <see cref="Market.LeaseRouter"/> chooses pools from may be: a
    /// pool that fills up, frees room or reprices is seen this much later there (the market itself sees it at once).
    /// </summary>
    public TimeSpan RouterViewAge { get; set; } = TimeSpan.FromMilliseconds(25);

    /// <summary>How long a quote's price holds.</summary>
    public TimeSpan QuoteValidity { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often an order book tries to fill its open orders.</summary>
    public TimeSpan OrderMatchInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long after an order book asks for a fill a pool still books it (counted from the ask's
    /// <see cref="Abstractions.Market.LeaseOrder.RequestedAt"/>). A book that got no answer (it stopped, or the call failed)
    /// looks for the lease twice this after its ask: then no pool books it any more, and a booking made in time is stored.
    /// </summary>
    public TimeSpan OrderFillFence { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest a standing order may rest.</summary>
    public TimeSpan MaxOrderLifetime { get; set; } = TimeSpan.FromDays(7);

    public int MaxSlotsPerLease { get; set; } = 64;

    /// <summary>How many inference requests one leased slot runs at once; a lease's limit is this × its slots.</summary>
    public int InferenceConcurrencyPerSlot { get; set; } = 8;

    /// <summary>A token-billed lease stops admitting requests (402, top up) once its bill is within this share of its escrow.</summary>
    public int EscrowLowPercent { get; set; } = 5;

    public int MaxHours { get; set; } = 24 * 30;

    /// <summary>How far ahead a reserved block may start.</summary>
    public TimeSpan MaxAdvance { get; set; } = TimeSpan.FromDays(90);

    /// <summary>How long a settlement grain gathers vouchers before it sends a batch.</summary>
    public TimeSpan SettlementFlushDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How long a settlement grain waits before trying again after the chain could not be reached.</summary>
    public TimeSpan SettlementRetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The most vouchers in one settleBatch. A voucher costs the escrow about 11,000 to 18,000 gas (more when its final
    /// amount refunds the tenant), so 700 use about 12M gas, and the gas limit a batch is sent with (40,000 a voucher, see
    /// EscrowSettlement.GasLimit) stays inside a 30M block; fewer, larger batches amortize each transaction's base cost,
    /// block and round trips.
    /// </summary>
    public int MaxBatchSize { get; set; } = 700;

    /// <summary>How many settleBatch transactions one provider's queue keeps in flight (sent, receipt not yet in).</summary>
    public int MaxBatchesInFlight { get; set; } = 4;

    /// <summary>
    /// How long a submitted voucher may go without its lease seeing the payment on chain before it is sent again (its block
    /// dropped by a reorganization, say); sending it again is harmless, as the contract pays a voucher only once.
    /// </summary>
    public TimeSpan SettlementConfirmTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long one settleBatch (send + receipt) may take. Three times the sender's replacement interval (15 s): a batch
    /// stuck below the market's fees is replaced twice, fees raised each time, before the grain gives up on it and queues
    /// its vouchers again; a shorter bound would give up before any replacement and leave the stuck one in the pool.
    /// </summary>
    public TimeSpan SettlementTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>
    /// The longest wait before a voucher refused for a reason that can pass (see <c>SettlementRetry</c>) is sent again; the
    /// waits double from <see cref="SettlementRetryDelay"/> up to this.
    /// </summary>
    public TimeSpan SettlementRetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The period of the reminders that outlive a restart: a settlement queue's while it holds vouchers not yet confirmed,
    /// a lease's while it holds a voucher it has not seen paid. Each tick wakes its grain, which re-arms its timers. Orleans
    /// takes no less than its <c>ReminderOptions.MinimumReminderPeriod</c>, a minute unless configured.
    /// </summary>
    public TimeSpan SettlementReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The escrow contract's claim window (its <c>claimWindow()</c>): vouchers settle until a lease's escrow expiry plus
    /// this, after which the tenant may take the rest back. Until then the market keeps trying a voucher that was refused
    /// for a reason that can pass, and keeps watching that a lease's voucher gets paid.
    /// </summary>
    public TimeSpan ClaimWindow { get; set; } = TimeSpan.FromHours(1);
}
