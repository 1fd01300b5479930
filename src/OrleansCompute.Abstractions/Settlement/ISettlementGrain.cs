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
    /// The chain changed under <paramref name="voucher"/>: a reorganization removed its payment, or its escrow appeared or
    /// grew, so that a refusal may not hold. The voucher is sent again whatever its item's state: a submitted, confirmed or
    /// rejected item is queued again at once, one in a batch in flight is queued again once its receipt is in, and one not
    /// known is queued anew. The contract pays a voucher only above what is paid, so sending it again is harmless.
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
/// Queued: waiting for a batch (after a refusal that can pass, not before <see cref="SettlementItem.NotBefore"/>).
/// Submitted: its batch was mined. Confirmed: its lease has seen the payment on chain (the chain watcher's events).
/// Rejected: the contract refused it for good, with its reason.
/// </summary>
public enum SettlementItemStatus { Queued, Submitted, Rejected, Confirmed }

/// <param name="Refusals">How often in a row the contract refused it for a reason that can pass; the wait before the next try doubles with each.</param>
/// <param name="NotBefore">When a queued item refused for a reason that can pass is sent again; null to send it with the next batch.</param>
[GenerateSerializer, Immutable, Alias("occ.settlement-item")]
public sealed record SettlementItem(
    [property: Id(0)] SignedVoucher Voucher,
    [property: Id(1)] SettlementItemStatus Status,
    [property: Id(2)] DateTimeOffset QueuedAt,
    [property: Id(3)] string? TransactionHash = null,
    [property: Id(4)] string? Error = null,
    [property: Id(5)] DateTimeOffset? SubmittedAt = null,
    [property: Id(6)] int Refusals = 0,
    [property: Id(7)] DateTimeOffset? NotBefore = null);

[GenerateSerializer, Immutable, Alias("occ.settlement-snapshot")]
public sealed record SettlementSnapshot(
    [property: Id(0)] string Provider,
    [property: Id(1)] IReadOnlyList<SettlementItem> Items,
    [property: Id(2)] int BatchesSubmitted);
