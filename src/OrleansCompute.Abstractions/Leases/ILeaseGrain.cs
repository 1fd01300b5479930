using OrleansCompute.Abstractions.Inference;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Abstractions.Leases;

/// <summary>
/// One lease, keyed by its id, from the moment anything but a cancel touches it: a reservation is made and kept by its
/// pool (see <see cref="IPoolGrain"/>), and the lease grain takes it over when it first activates. From then on the lease
/// alone moves its state machine; every tenant-facing method takes the tenant address the host verified and refuses anyone else.
/// </summary>
public interface ILeaseGrain : IGrainWithGuidKey
{
    /// <summary>The chain watcher saw the escrow: activates the lease if the escrow matches it. Null when no lease has this id.</summary>
    Task<LeaseSnapshot?> ConfirmFundingAsync(EscrowFunded funded);

    /// <summary>Ends the lease (or cancels it before funding), frees its slots and fixes what is owed.</summary>
    Task<LeaseSnapshot> EndAsync(string tenant);

    /// <summary>Accepts the tenant's final voucher for exactly what is owed and queues it for settlement.</summary>
    Task<LeaseSnapshot> SubmitFinalVoucherAsync(string tenant, SignedVoucher voucher);

    /// <summary>The chain watcher saw the tenant add to the escrow: more usage can be paid for.</summary>
    Task<LeaseSnapshot?> ConfirmTopUpAsync(EscrowToppedUp toppedUp);

    /// <summary>
    /// A cumulative usage voucher for a running lease (its tokens or its time so far), signed by the lease's voucher
    /// signer, for more than the last one and at most what is owed now; kept as the lease's latest and handed to settlement. Its signature is the authority.
    /// </summary>
    Task<LeaseSnapshot> SubmitUsageVoucherAsync(SignedVoucher voucher);

    /// <summary>The chain watcher saw a payment to the provider.</summary>
    Task ConfirmSettledAsync(EscrowSettled settled);

    /// <summary>
    /// The chain watcher saw the tenant start the escrow's closing on chain, without the market: a running lease ends
    /// there (its slots are freed); what it owes beyond what the tenant's voucher paid is settled until the claim window ends.
    /// </summary>
    Task ConfirmClosingAsync(EscrowClosing closing);

    /// <summary>The chain watcher saw the escrow closed (by the final voucher, or refunded after expiry).</summary>
    Task ConfirmClosedAsync(EscrowClosed closed);

    // A chain reorganization removed an event the chain watcher had folded in: each undoes what its Confirm… did, once;
    // rolling back what the lease never saw (or already undid) changes nothing.

    /// <summary>
    /// The escrow is gone: a lease running on it goes back to waiting for it (in the window it had, until a new funding
    /// deadline); any other keeps its state. An escrow mined again is taken as before.
    /// </summary>
    Task RollBackFundingAsync(EscrowFunded funded);

    /// <summary>The top-up is gone: the escrow holds what it held before.</summary>
    Task RollBackTopUpAsync(EscrowToppedUp toppedUp);

    /// <summary>The payment is gone: paid goes back to what it was, the provider's earnings down with it, and the voucher is sent again.</summary>
    Task RollBackSettledAsync(EscrowSettled settled);

    /// <summary>The close is gone: the lease returns to the state it had before it, and a final voucher is sent again.</summary>
    Task RollBackClosedAsync(EscrowClosed closed);

    /// <summary>
    /// The closing the tenant's own final voucher started is gone (its payment goes with its LeaseSettled's rollback). The
    /// history says so; a lease it ended stays Ended, since the slots it freed may be leased again.
    /// </summary>
    Task RollBackClosingAsync(EscrowClosing closing);

    /// <summary>The provider is taking back <paramref name="slotKey"/>: at <paramref name="reclaimAt"/> the lease moves to another slot or ends, billed pro rata.</summary>
    Task NoticeReclaimAsync(string slotKey, DateTimeOffset reclaimAt);

    /// <summary>Acts on any deadline that has passed (e.g. a funding deadline after a restart); the pool's sweep calls it.</summary>
    Task CheckDeadlineAsync();

    /// <summary>The settlement grain could not settle the voucher on chain.</summary>
    Task SettlementRejectedAsync(string reason);

    /// <summary>
    /// The lease's inference API key (<c>Authorization: Bearer …</c> on <c>/v1</c>), for its tenant only. Issued when the
    /// lease becomes active, revoked when it stops being active.
    /// </summary>
    Task<string> GetApiKeyAsync(string tenant);

    /// <summary>
    /// Admits one inference request presenting <paramref name="apiKey"/>: counts it in flight when the key is this
    /// lease's, the lease is active and a slot has room, and, for a token-billed lease, when the escrow can pay for
    /// <paramref name="mostTokens"/> (the most the request may be metered: its prompt and max_tokens; 0 when unknown) on
    /// top of what is owed and what the requests in flight may use. Every admitted request must end with
    /// <see cref="RecordInferenceAsync"/>, given the same <paramref name="mostTokens"/>.
    /// </summary>
    Task<InferenceAdmission> AdmitInferenceAsync(string apiKey, int mostTokens = 0);

    /// <summary>Whether <paramref name="apiKey"/> is this active lease's key (and its kind), without admitting a request.</summary>
    [ReadOnly]
    Task<InferenceAdmission> AuthorizeInferenceAsync(string apiKey);

    /// <summary>
    /// An admitted request finished (or failed) having used <paramref name="usage"/>: metered on the lease, no longer in
    /// flight, and the <paramref name="mostTokens"/> it was admitted with no longer held against the escrow.
    /// </summary>
    Task<LeaseSnapshot> RecordInferenceAsync(InferenceUsage usage, int mostTokens = 0);

    /// <summary>
    /// Several admitted requests finished: each recorded as <see cref="RecordInferenceAsync"/> records it, in order, and
    /// stored with one write. The gateway sends the requests of a lease that finish while its last record is in flight so.
    /// </summary>
    Task<LeaseSnapshot> RecordInferencesAsync(IReadOnlyList<InferenceRecord> records);

    /// <summary>The lease, or null when no lease has this id.</summary>
    [ReadOnly]
    ValueTask<LeaseSnapshot?> GetAsync();
}
