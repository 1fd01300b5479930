namespace OrleansCompute.Abstractions.Settlement;

/// <summary>
/// The settlement queue of one provider (keyed by its payout address, see <c>AccountKeys</c>):
/// vouchers wait here and go on chain together as one <c>settleBatch</c>.
/// </summary>
public interface ISettlementGrain : IGrainWithStringKey
{
    /// <summary>Queues the voucher (once per lease) and schedules a flush.</summary>
    Task EnqueueAsync(SignedVoucher voucher);

    /// <summary>
    /// A chain reorganization removed the payment of <paramref name="voucher"/>: a submitted or confirmed item is queued
    /// again (one not known is queued anew). The contract pays a voucher only above what is paid, so sending it again is harmless.
    /// </summary>
    Task ResendAsync(SignedVoucher voucher);

    /// <summary>
    /// The voucher's lease has not seen it paid yet and asks again, from its reminder, that it be sent: one the queue does
    /// not hold is queued (its first enqueue was lost), one confirmed is sent again (a reorganization removed the payment
    /// after the confirmation). One queued, in flight or submitted is left to the queue, and one rejected for good stays so.
    /// </summary>
    Task EnsureSentAsync(SignedVoucher voucher);

    [ReadOnly]
    ValueTask<SettlementSnapshot> GetAsync();
}

/// <summary>
/// Queued: waiting for a batch. Submitted: its batch was mined. Confirmed: its lease has seen the payment on chain (the
/// chain watcher's events). Rejected: the contract refused it, with its reason.
/// </summary>
public enum SettlementItemStatus { Queued, Submitted, Rejected, Confirmed }

[GenerateSerializer, Immutable, Alias("occ.settlement-item")]
public sealed record SettlementItem(
    [property: Id(0)] SignedVoucher Voucher,
    [property: Id(1)] SettlementItemStatus Status,
    [property: Id(2)] DateTimeOffset QueuedAt,
    [property: Id(3)] string? TransactionHash = null,
    [property: Id(4)] string? Error = null,
    [property: Id(5)] DateTimeOffset? SubmittedAt = null);

[GenerateSerializer, Immutable, Alias("occ.settlement-snapshot")]
public sealed record SettlementSnapshot(
    [property: Id(0)] string Provider,
    [property: Id(1)] IReadOnlyList<SettlementItem> Items,
    [property: Id(2)] int BatchesSubmitted);
