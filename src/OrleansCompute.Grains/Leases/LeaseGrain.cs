using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Inference;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Grains.Settlement;

namespace OrleansCompute.Grains.Leases;

[GenerateSerializer, Alias("occ.lease-state")]
public sealed class LeaseState
{
    [Id(0)] public LeaseSnapshot? Lease { get; set; }

    /// <summary>Whether the lease's reminder is registered, so that a lease that never had one never asks for it.</summary>
    [Id(1)] public bool HasReminder { get; set; }

    /// <summary>The inference API key while the lease is active (see <see cref="LeaseApiKeys"/>); never in the snapshot anyone may read.</summary>
    [Id(2)] public string? ApiKey { get; set; }
}

/// <summary>
/// One lease and its state machine, from the moment its pool hands it over (see <see cref="TakeOverFromPoolAsync"/>):
/// funding, activation, metering, ending, settlement. Deadlines (funding, start of a block, end of the window, a reclaim notice) are
/// kept in state and driven by a grain timer for precision. What makes them fire after a restart: for a reservation,
/// its pool's sweep reminder (one per pool, not one per reservation: reservations are the hot path); later, the
/// lease's own reminder. The same reminder watches a voucher the lease holds and has not seen paid (see
/// <see cref="WatchesSettlement"/>): each tick hands it to its settlement queue again, which ignores what it holds, so
/// that a voucher saved here is sent even when handing it over failed.
/// </summary>
public sealed class LeaseGrain(
    [PersistentState("lease", GrainStorage.Market)] IPersistentState<LeaseState> state,
    ILeaseBook book,
    IOptions<MarketOptions> options,
    IVoucherVerifier voucherVerifier,
    TimeProvider clock,
    ILogger<LeaseGrain> logger) : Grain, ILeaseGrain, IRemindable
{
    private const string ClockReminder = "lease-clock";
    private readonly MarketOptions _options = options.Value;
    private IGrainTimer? _deadlineTimer;
    /// <summary>Inference requests admitted and not yet recorded; in memory only, as the requests themselves are.</summary>
    private int _inFlight;
    /// <summary>The most tokens the requests in flight may still be metered (each one's prompt and max_tokens).</summary>
    private long _inFlightTokens;

    private Guid Id => this.GetPrimaryKey();
    private DateTimeOffset Now => clock.GetUtcNow();

    private LeaseSnapshot Lease => state.State.Lease ?? throw Unknown();

    /// <summary>
    /// No lease by this id, here or in its pool: the activation goes once the call is answered. A lease read by a mistyped or
    /// guessed id would otherwise stay in memory, and one its pool books later (an order book's chosen id) would find
    /// this empty activation instead of one that takes it over from its pool.
    /// </summary>
    private MarketException Unknown()
    {
        LeaveIfEmpty();
        return new MarketException(MarketError.NotFound, "UnknownLease", $"No lease '{LeaseIds.Format(Id)}'.");
    }

    private void LeaveIfEmpty()
    {
        if (state.State.Lease is null) DeactivateOnIdle();
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await TakeOverFromPoolAsync();
        await ArmDeadlineAsync();
        await base.OnActivateAsync(cancellationToken);
    }

    /// <summary>
    /// A lease starts in its pool (<see cref="IPoolGrain.ReserveAsync"/>), which keeps it until anything but a cancel
    /// happens to it: then its lease grain activates, and takes it over here. While the pool keeps the lease, the pool's
    /// copy is the lease, so a lease grain that holds a reservation asks again (it may have stopped between storing the
    /// lease and the pool letting go of it).
    /// </summary>
    private async Task TakeOverFromPoolAsync()
    {
        if (state.State.Lease is { Status: not LeaseStatus.Reserved }) return;
        var poolKey = state.State.Lease?.PoolKey ?? await book.FindPoolAsync(Id);
        if (poolKey is null) return;

        var pool = GrainReferences.Get<IPoolGrain>(GrainFactory, poolKey);
        if (await pool.HandOverAsync(Id) is not { } lease) return;
        state.State.Lease = lease;
        await state.WriteStateAsync();
        // Every time, not only when the lease is new here: a take-over that stopped after the write above never told the
        // account, and once the pool lets go of the lease its account is where the tenant's list finds it. The account
        // keeps each lease once.
        await GrainFactory.GetGrain<IAccountGrain>(lease.Tenant).AddLeaseAsync(Id);
        await pool.CompleteHandOverAsync(Id);
    }

    public async Task<LeaseSnapshot?> ConfirmFundingAsync(EscrowFunded funded)
    {
        if (state.State.Lease is not { } lease) return null;
        if (lease.FundingTransaction is not null) return lease;
        if (lease.Status == LeaseStatus.Ended)
        {
            // Its escrow was removed by a chain reorganization after the lease ran, and is on chain again: the final voucher can settle.
            lease = Transition(lease with { FundingTransaction = funded.TransactionHash, Escrowed = funded.Deposit, Channel = funded.Channel }, LeaseStatus.Ended,
                LeaseReasons.EscrowFunded, $"{funded.Deposit} in transaction {funded.TransactionHash}");
            await SaveAsync(lease);
            if (Unpaid(lease) is { } owed) await Settlement(lease).ResendAsync(owed);
            return lease;
        }

        // One reading of the clock for the whole decision: funded in time must also mean the window starts in time,
        // or a lease funded just before its deadline could be refused by its own slots a moment later.
        var now = Now;
        if (lease.Status == LeaseStatus.Reserved && now >= lease.FundBy)
        {
            // The deadline passed before its timer ran: the reservation expired first, the escrow came too late.
            await ReleaseSlotsAsync(lease);
            lease = Transition(lease, LeaseStatus.Expired, LeaseReasons.ReservationNotFunded, $"no escrow seen on chain by {lease.FundBy:O}");
        }
        lease = lease with { FundingTransaction = funded.TransactionHash };
        var mismatch = EscrowMismatch(lease, funded);
        if (lease.Status != LeaseStatus.Reserved)
        {
            // The reservation is gone (expired or cancelled); the tenant takes the escrow back after its expiry.
            lease = Transition(lease, LeaseStatus.Failed, LeaseReasons.FundedAfterExpiry, $"escrow funded while {lease.Status}");
        }
        else if (mismatch is not null)
        {
            await ReleaseSlotsAsync(lease);
            lease = Transition(lease, LeaseStatus.Failed, LeaseReasons.EscrowMismatch, mismatch);
        }
        else
        {
            var signer = funded.Signer is { } named && AccountKeys.Normalize(named) != lease.Tenant ? AccountKeys.Normalize(named) : null;
            lease = Transition(lease with { Escrowed = funded.Deposit, VoucherSigner = signer, Channel = funded.Channel }, LeaseStatus.Funded,
                LeaseReasons.EscrowFunded,
                $"{funded.Deposit} in transaction {funded.TransactionHash} on channel {funded.Channel}{(signer is null ? "" : $"; vouchers signed by session key {signer}")}");
            // A reserved block runs in its own window; a lease that had started (and lost its escrow to a reorganization) in
            // the window it had; any other lease from now, inside the room it booked.
            var leased = LeaseWindow.From(lease.StartedAt ?? lease.StartsAt ?? now, TimeSpan.FromHours(lease.Request.Hours));
            if (await Pool(lease).ActivateAsync(Id, leased))
            {
                lease = lease with { EndsAt = leased.End };
                lease = leased.Start > now
                    ? Transition(lease, LeaseStatus.Funded, LeaseReasons.AwaitingStart, $"starts {leased.Start.UtcDateTime:yyyy-MM-dd HH:mm:ss'Z'}")
                    : Transition(lease with { StartedAt = leased.Start }, LeaseStatus.Active, LeaseReasons.SlotsActivated);
            }
            else
            {
                await ReleaseSlotsAsync(lease);
                lease = Transition(lease, LeaseStatus.Failed, LeaseReasons.SlotsLost, "the reserved slots were no longer held");
            }
        }

        await SaveAsync(lease);
        // A lease running again on an escrow mined anew: a usage voucher refused while the escrow was gone can settle now.
        if (lease.Status is LeaseStatus.Funded or LeaseStatus.Active && Unpaid(lease) is { } unpaid) await Settlement(lease).ResendAsync(unpaid);
        return lease;
    }

    public async Task<LeaseSnapshot> EndAsync(string tenant)
    {
        var lease = OwnedBy(tenant);
        switch (lease.Status)
        {
            case LeaseStatus.Reserved:
                await ReleaseSlotsAsync(lease);
                lease = Transition(lease, LeaseStatus.Cancelled, LeaseReasons.CancelledByTenant);
                break;
            case LeaseStatus.Active or LeaseStatus.Funded:
                lease = await EndActiveAsync(lease, LeaseReasons.EndedByTenant);
                break;
            case LeaseStatus.Ended or LeaseStatus.Cancelled:
                return lease;
            default:
                throw new MarketException(MarketError.Conflict, "LeaseNotActive", $"A lease that is {lease.Status} cannot be ended.");
        }

        await SaveAsync(lease);
        return lease;
    }

    public async Task<LeaseSnapshot> SubmitFinalVoucherAsync(string tenant, SignedVoucher voucher)
    {
        var lease = OwnedBy(tenant);
        if (lease.FinalVoucher is { } accepted)
        {
            if (accepted == voucher)
            {
                // A resubmission: queue it again (the queue ignores duplicates) in case the first enqueue was lost.
                if (lease.Status == LeaseStatus.Ended) await GrainFactory.GetGrain<ISettlementGrain>(lease.ProviderAddress!).EnqueueAsync(voucher);
                return lease;
            }
            throw new MarketException(MarketError.Conflict, "VoucherAlreadyAccepted", "A final voucher for this lease was already accepted.");
        }
        if (lease.Status != LeaseStatus.Ended)
            throw new MarketException(MarketError.Conflict, "LeaseNotEnded", $"A final voucher is accepted once the lease has ended; it is {lease.Status}.");
        if (voucher.LeaseId != Id)
            throw MarketException.Invalid("leaseId", "WrongLease", "The voucher is for another lease.");
        if (!voucher.IsFinal)
            throw MarketException.Invalid("isFinal", "NotFinal", "Ending a lease takes a final voucher.");
        // A final voucher closes the escrow only at no less than it has paid: when the tenant paid more on chain itself
        // (leaving without the market), that is what its final voucher must say.
        var closesAt = Credits.Max(lease.AmountOwed, lease.Paid);
        if (voucher.Amount != closesAt)
            throw MarketException.Invalid("amount", "WrongAmount", lease.Paid > lease.AmountOwed
                ? $"The lease owes {lease.AmountOwed} but has paid {lease.Paid} on chain already; a final voucher closes it at {lease.Paid}, not {voucher.Amount}."
                : $"The lease owes {lease.AmountOwed}; the voucher says {voucher.Amount}.");
        RequireSignedByLease(lease, voucher);

        lease = Transition(lease with { FinalVoucher = voucher }, LeaseStatus.Ended, LeaseReasons.FinalVoucherAccepted, $"{voucher.Amount} to {lease.ProviderAddress}");
        await SaveAsync(lease);
        await GrainFactory.GetGrain<ISettlementGrain>(lease.ProviderAddress!).EnqueueAsync(voucher);
        return lease;
    }

    public async Task ConfirmSettledAsync(EscrowSettled settled)
    {
        if (state.State.Lease is not { } lease) return;
        if (settled.TotalPaid > lease.Paid)
        {
            // The provider's account first, which takes the same move once however often it is told: should saving the
            // lease fail, the watcher hands the event again, finds the lease short and repeats both.
            await Account(settled.Provider).RecordLeasePaidAsync(Id, lease.Paid, settled.TotalPaid);
            var paid = Transition(lease with { Paid = settled.TotalPaid, SettlementTransaction = settled.TransactionHash }, lease.Status,
                LeaseReasons.PaidOnChain,
                $"{settled.TotalPaid - lease.Paid} to {settled.Provider} in transaction {settled.TransactionHash} (block {settled.BlockNumber}); paid {settled.TotalPaid} in all");
            // An ended lease paid beyond its bill (its tenant paid on chain itself) closes at what it paid: the voucher it
            // asks for says so, as the escrow takes a final voucher for no less.
            if (paid is { FinalVoucher: null, VoucherToSign: { IsFinal: true } request } && request.Amount < paid.Paid)
                paid = paid with { VoucherToSign = request with { Amount = paid.Paid } };
            await SaveAsync(paid);
        }
        else if (settled.Amount == Credits.Zero && settled.TotalPaid == lease.Paid && lease.SettlementTransaction != settled.TransactionHash)
        {
            // The contract takes a voucher for no more than is paid only when it is final and closes the lease, so
            // nothing settles after it: it is the newest settlement, whatever an earlier payment recorded.
            await SaveAsync(Transition(lease with { SettlementTransaction = settled.TransactionHash }, lease.Status, LeaseReasons.PaidOnChain,
                $"nothing more: the final voucher's {settled.TotalPaid} was paid already; transaction {settled.TransactionHash} (block {settled.BlockNumber})"));
        }
    }

    public async Task ConfirmClosingAsync(EscrowClosing closing)
    {
        if (state.State.Lease is not { } lease || lease.Status.IsFinal()) return;
        if (ClosingSeenAt(lease, closing) >= 0) return;

        var detail = $"the tenant's own final voucher started the escrow's closing in transaction {closing.TransactionHash}: it expires at " +
            $"{closing.Expiry:O}, and the rest is refundable after {closing.Expiry + _options.ClaimWindow:O} (occ lease refund), once the claim window has ended";
        // The tenant has stopped paying through the market: a running lease stops here and frees its slots. What it owes
        // beyond what the tenant's voucher paid can still settle on chain until the claim window ends.
        lease = lease.Status is LeaseStatus.Active or LeaseStatus.Funded
            ? await EndActiveAsync(lease, LeaseReasons.ClosingOnChain, detail)
            : Transition(lease, lease.Status, LeaseReasons.ClosingOnChain, detail);
        await SaveAsync(lease);
    }

    public async Task ConfirmClosedAsync(EscrowClosed closed)
    {
        if (state.State.Lease is not { } lease || lease.Status.IsFinal()) return;

        lease = lease with { Refunded = closed.Refund };
        // A close a reorganization removed was counted already; the one that replaces it is not counted again.
        if (!lease.History.Any(t => t.Reason is LeaseReasons.SettledOnChain or LeaseReasons.RefundedOnChain))
            MarketMetrics.LeasesSettled.Add(1, new KeyValuePair<string, object?>("kind", lease.Request.Kind));
        if (lease.FinalVoucher is not null)
        {
            lease = Transition(lease, LeaseStatus.Settled, LeaseReasons.SettledOnChain,
                $"paid {lease.Paid}, refunded {closed.Refund} to the tenant's escrow balance in transaction {closed.TransactionHash}");
        }
        else
        {
            // Closed without the final voucher: the tenant took the escrow back after its expiry.
            if (lease.Status is LeaseStatus.Reserved or LeaseStatus.Funded or LeaseStatus.Active) await ReleaseSlotsAsync(lease);
            lease = Transition(lease, LeaseStatus.Refunded, LeaseReasons.RefundedOnChain,
                $"refunded {closed.Refund} to the tenant's escrow balance in transaction {closed.TransactionHash}");
        }
        await SaveAsync(lease);
    }

    public async Task RollBackFundingAsync(EscrowFunded funded)
    {
        if (state.State.Lease is not { } lease || lease.FundingTransaction != funded.TransactionHash) return;

        var removed = $"the escrow of {funded.Deposit} in transaction {funded.TransactionHash} was removed by a chain reorganization";
        lease = lease with { FundingTransaction = null, Escrowed = Credits.Zero };
        if (lease.Status is LeaseStatus.Funded or LeaseStatus.Active)
        {
            // Running on an escrow the chain no longer has: it keeps its slots and window and waits for the escrow again
            // (mined again, or funded anew) until a new deadline, after which it expires and frees them.
            var fundBy = Now + _options.FundingWindow;
            lease = Transition(lease with { FundBy = fundBy }, LeaseStatus.Reserved, LeaseReasons.ReorgedOut, $"{removed}; waiting for it until {fundBy:O}");
        }
        else
        {
            // Ended (its final voucher settles once the escrow is back) or failed by that escrow (its slots are gone already).
            lease = Transition(lease, lease.Status, LeaseReasons.ReorgedOut, removed);
        }
        await SaveAsync(lease);
    }

    public async Task RollBackTopUpAsync(EscrowToppedUp toppedUp)
    {
        if (state.State.Lease is not { } lease || lease.Escrowed != toppedUp.Deposit || toppedUp.Amount <= Credits.Zero) return;

        var before = toppedUp.Deposit - toppedUp.Amount;
        await SaveAsync(Transition(lease with { Escrowed = before }, lease.Status, LeaseReasons.ReorgedOut,
            $"the top-up of {toppedUp.Amount} in transaction {toppedUp.TransactionHash} was removed by a chain reorganization; the escrow holds {before}"));
    }

    public async Task RollBackSettledAsync(EscrowSettled settled)
    {
        // The contract pays only above what is paid, so no two payments on one chain reach the same total: paid equal to
        // this one's total means it is the latest payment the lease counts. Rolled back newest first, each restores the one before.
        if (state.State.Lease is not { } lease || lease.Paid != settled.TotalPaid) return;
        if (settled.Amount <= Credits.Zero)
        {
            // The closing settlement that paid nothing: only its transaction goes; the final voucher is sent again with the close's rollback.
            if (lease.SettlementTransaction != settled.TransactionHash) return;
            await SaveAsync(Transition(lease with { SettlementTransaction = null }, lease.Status, LeaseReasons.ReorgedOut,
                $"the settlement paying nothing more in transaction {settled.TransactionHash} was removed by a chain reorganization"));
            return;
        }

        var paidBefore = settled.TotalPaid - settled.Amount;
        // As in ConfirmSettledAsync: the account's move first, so that a retry after a failed save repeats both.
        await Account(settled.Provider).RecordLeasePaidAsync(Id, settled.TotalPaid, paidBefore);
        lease = Transition(lease with { Paid = paidBefore, SettlementTransaction = null }, lease.Status, LeaseReasons.ReorgedOut,
            $"the payment of {settled.Amount} in transaction {settled.TransactionHash} was removed by a chain reorganization; paid {paidBefore}");
        await SaveAsync(lease);
        // Should this fail, the lease's reminder hands the voucher over again (WatchesSettlement).
        if ((lease.FinalVoucher ?? lease.LastVoucher) is { } latest && latest.Amount > paidBefore) await Settlement(lease).ResendAsync(latest);
    }

    public async Task RollBackClosedAsync(EscrowClosed closed)
    {
        if (state.State.Lease is not { Status: LeaseStatus.Settled or LeaseStatus.Refunded } lease) return;

        // The state before the close: the one recorded by the transition ahead of it.
        var history = lease.History;
        var closing = history.Count - 1;
        while (closing > 0 && history[closing].Reason is not (LeaseReasons.SettledOnChain or LeaseReasons.RefundedOnChain)) closing--;
        var before = closing > 0 ? history[closing - 1].Status : LeaseStatus.Ended;
        lease = Transition(lease with { Refunded = Credits.Zero }, before, LeaseReasons.ReorgedOut,
            $"the close refunding {closed.Refund} in transaction {closed.TransactionHash} was removed by a chain reorganization");
        await SaveAsync(lease);
        if (lease.FinalVoucher is { } final) await Settlement(lease).ResendAsync(final);
    }

    public async Task RollBackClosingAsync(EscrowClosing closing)
    {
        if (state.State.Lease is not { } lease || lease.Status.IsFinal()) return;
        var removed = $"the closing started by the tenant's own final voucher in transaction {closing.TransactionHash} was removed by a chain reorganization";
        var seen = ClosingSeenAt(lease, closing);
        if (seen < 0) return;
        // Once: the same transaction's payment has a ReorgedOut of its own.
        if (lease.History.Any(t => t.Reason == LeaseReasons.ReorgedOut && t.Detail?.StartsWith(removed, StringComparison.Ordinal) == true)) return;

        // A lease the closing ended stays Ended: its slots were freed when the closing was seen and may be another lease's
        // by now, so running it again could book them twice. The tenant sent that final voucher to leave, and what the
        // lease owes was fixed then; its bill settles as any ended lease's does, and the escrow, whose expiry is back
        // where it was, takes the provider's vouchers for longer. The payment the closing made is undone by its own
        // LeaseSettled's rollback.
        var endedByIt = seen > 0 && lease.History[seen - 1].Status is LeaseStatus.Active or LeaseStatus.Funded;
        await SaveAsync(Transition(lease, lease.Status, LeaseReasons.ReorgedOut, removed +
            (endedByIt ? $"; the lease it ended stays {lease.Status}: its slots were freed then and may be leased again" : "")));
    }

    public async Task NoticeReclaimAsync(string slotKey, DateTimeOffset reclaimAt)
    {
        if (state.State.Lease is not { } lease || !lease.SlotKeys.Contains(slotKey) || lease.Reclaims.Any(r => r.SlotKey == slotKey)) return;
        if (lease.Status is not (LeaseStatus.Reserved or LeaseStatus.Funded or LeaseStatus.Active)) return;
        await SaveAsync(Transition(lease with { Reclaims = [.. lease.Reclaims, new SlotReclaim(slotKey, reclaimAt)] },
            lease.Status, LeaseReasons.ProviderReclaimed, $"{slotKey} is taken back at {reclaimAt.UtcDateTime:yyyy-MM-dd HH:mm:ss'Z'}: the lease moves to a free slot or ends, billed pro rata"));
    }

    public async Task SettlementRejectedAsync(string reason)
    {
        if (state.State.Lease is not { } lease || lease.Status.IsFinal()) return;
        await SaveAsync(Transition(lease, lease.Status, LeaseReasons.SettlementRejected, reason));
    }

    public Task<string> GetApiKeyAsync(string tenant)
    {
        var lease = OwnedBy(tenant);
        return state.State.ApiKey is { } key
            ? Task.FromResult(key)
            : throw new MarketException(MarketError.Conflict, "LeaseNotActive", $"A lease has an inference key while it is Active; this one is {lease.Status}.");
    }

    public Task<InferenceAdmission> AuthorizeInferenceAsync(string apiKey) =>
        Task.FromResult(ActiveLeaseFor(apiKey) is { } lease
            ? new InferenceAdmission(AdmissionOutcome.Admitted, lease.Request.Kind, lease.PoolKey, lease.Request.Slots * _options.InferenceConcurrencyPerSlot)
            : NotAuthorized);

    public Task<InferenceAdmission> AdmitInferenceAsync(string apiKey, int mostTokens = 0)
    {
        if (ActiveLeaseFor(apiKey) is not { } lease) return Task.FromResult(NotAuthorized);

        var profile = AcceleratorCatalog.Require(lease.Request.Kind);
        if (PaymentDue(lease) is { } due) return Task.FromResult(due);

        var concurrency = lease.Request.Slots * _options.InferenceConcurrencyPerSlot;
        if (_inFlight >= concurrency)
            return Task.FromResult(new InferenceAdmission(AdmissionOutcome.Busy, Concurrency: concurrency, RetryAfter: TimeSpan.FromSeconds(1),
                Message: $"The lease runs at most {concurrency} requests at once ({_options.InferenceConcurrencyPerSlot} per slot)."));
        if (EscrowCannotCover(lease, mostTokens, concurrency) is { } refused) return Task.FromResult(refused);

        _inFlight++;
        _inFlightTokens += Math.Max(mostTokens, 0);
        return Task.FromResult(new InferenceAdmission(AdmissionOutcome.Admitted, profile.Kind, lease.PoolKey, concurrency));
    }

    /// <summary>
    /// For a token-billed lease, why a request that may be metered up to <paramref name="mostTokens"/> cannot start now, or
    /// null: the escrow could not pay for it on top of what is owed (402: top up, or ask for fewer tokens), or not on top
    /// of what the requests in flight may still use (429: it waits for them). Admitting it anyway would have the provider
    /// run inference the escrow cannot pay for, since the bill is capped at the escrow.
    /// </summary>
    private InferenceAdmission? EscrowCannotCover(LeaseSnapshot lease, int mostTokens, int concurrency)
    {
        if (lease.Request.BillBy != LeaseBillingMode.Tokens || mostTokens <= 0) return null;
        var escrowed = EscrowHolds(lease);
        var price = AcceleratorCatalog.Require(lease.Request.Kind).PricePerMillionTokens(lease.PricePerSlotHour);
        Credits BillWith(long tokens) => LeaseBilling.OwedForTokens(price, lease.Usage.TotalTokens + tokens, Credits.FromUnits(long.MaxValue));
        if (BillWith(mostTokens) > escrowed)
            return new InferenceAdmission(AdmissionOutcome.PaymentRequired,
                Message: $"This request may use up to {mostTokens} tokens (its prompt and max_tokens), {BillWith(mostTokens) - lease.AmountOwed} at " +
                         $"{price} per 1M tokens; the escrow has {escrowed - lease.AmountOwed} left. Top it up (occ lease top-up) or ask for fewer max_tokens.");
        if (BillWith(_inFlightTokens + mostTokens) > escrowed)
            return new InferenceAdmission(AdmissionOutcome.Busy, Concurrency: concurrency, RetryAfter: TimeSpan.FromSeconds(1),
                Message: $"The {_inFlight} requests in flight may use what is left in the escrow ({escrowed - lease.AmountOwed}); this one waits for them, or for a top-up.");
        return null;
    }

    public Task<LeaseSnapshot> RecordInferenceAsync(InferenceUsage usage, int mostTokens = 0) =>
        RecordInferencesAsync([new InferenceRecord(usage, mostTokens)]);

    public async Task<LeaseSnapshot> RecordInferencesAsync(IReadOnlyList<InferenceRecord> records)
    {
        var (inFlightBefore, inFlightTokensBefore) = (_inFlight, _inFlightTokens);
        foreach (var record in records)
        {
            if (_inFlight > 0) _inFlight--;
            _inFlightTokens = Math.Max(_inFlightTokens - Math.Max(record.MostTokens, 0), 0);
        }
        var lease = Lease;
        // A request still running when the lease ended is not metered: the bill was fixed at the end.
        if (lease.Status != LeaseStatus.Active) return lease;
        var metered = lease.Usage;
        var kind = new KeyValuePair<string, object?>("kind", lease.Request.Kind);
        foreach (var record in records.Where(r => r.Usage.TotalTokens > 0))
        {
            metered = metered.Add(record.Usage);
            MarketMetrics.InferenceRequests.Add(1, kind);
            MarketMetrics.InferenceTokens.Add(record.Usage.TotalTokens, kind);
        }
        if (metered == lease.Usage) return lease;
        lease = lease with { Usage = metered };
        if (lease.Request.BillBy == LeaseBillingMode.Tokens) lease = lease with { AmountOwed = TokenBill(lease) };
        try
        {
            await SaveUsageAsync(lease);
        }
        catch
        {
            // Not stored, so still in flight: the gateway sends these records again, and they free their places then.
            (_inFlight, _inFlightTokens) = (inFlightBefore, inFlightTokensBefore);
            throw;
        }
        return lease;
    }

    public async Task<LeaseSnapshot?> ConfirmTopUpAsync(EscrowToppedUp toppedUp)
    {
        if (state.State.Lease is not { } lease || toppedUp.Deposit <= lease.Escrowed) return state.State.Lease;
        lease = Transition(lease with { Escrowed = toppedUp.Deposit }, lease.Status, LeaseReasons.EscrowToppedUp,
            $"{toppedUp.Amount} added in transaction {toppedUp.TransactionHash}; the escrow holds {toppedUp.Deposit}");
        await SaveAsync(lease);
        // A voucher refused as ExceedsDeposit (the top-up it counted on was removed, and is mined again) can settle now.
        if (Unpaid(lease) is { } unpaid) await Settlement(lease).ResendAsync(unpaid);
        return lease;
    }

    public async Task<LeaseSnapshot> SubmitUsageVoucherAsync(SignedVoucher voucher)
    {
        var lease = Lease;
        if (voucher.LeaseId != Id)
            throw MarketException.Invalid("leaseId", "WrongLease", "The voucher is for another lease.");
        if (voucher.IsFinal)
            throw MarketException.Invalid("isFinal", "FinalVoucher", "A final voucher ends the lease: use occ lease end (POST /api/leases/{id}/end, then /voucher).");
        if (lease.Status is not (LeaseStatus.Active or LeaseStatus.Funded))
            throw new MarketException(MarketError.Conflict, "LeaseNotActive", $"Usage vouchers are taken while the lease is active; it is {lease.Status}.");
        RequireSignedByLease(lease, voucher);
        // The escrow pays a voucher only for what it adds to what is paid already: one for no more would send a transaction that pays nothing.
        if (lease.LastVoucher is { } last && voucher.Amount <= last.Amount)
            throw new MarketException(MarketError.Conflict, "StaleVoucher", $"A voucher for {last.Amount} was accepted already; a new one must be for more.", "amount");
        var owed = OwedNow(lease);
        if (voucher.Amount <= lease.Paid)
            throw new MarketException(MarketError.Conflict, "StaleVoucher",
                lease.Paid == Credits.Zero
                    ? $"A voucher for {voucher.Amount} pays nothing; a usage voucher is for more than 0, up to the {owed} owed."
                    : $"The escrow has paid {lease.Paid} already; a new voucher must be for more.", "amount");
        if (voucher.Amount > owed)
            throw MarketException.Invalid("amount", "AboveOwed", $"The lease owes {owed} so far; a usage voucher is for at most that.");

        lease = Transition(lease with { LastVoucher = voucher }, lease.Status, LeaseReasons.UsageVoucherAccepted, $"{voucher.Amount} of {owed} owed");
        await SaveAsync(lease);
        await GrainFactory.GetGrain<ISettlementGrain>(lease.ProviderAddress!).EnqueueAsync(voucher);
        return lease;
    }

    public ValueTask<LeaseSnapshot?> GetAsync()
    {
        LeaveIfEmpty();
        return ValueTask.FromResult(state.State.Lease);
    }

    public Task CheckDeadlineAsync() => OnDeadlineAsync();

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == ClockReminder) await OnDeadlineAsync();
    }

    private async Task OnDeadlineAsync()
    {
        if (state.State.Lease is not { } lease) return;
        var now = Now;
        if (lease.Reclaims.Any(r => r.At <= now) && lease.Status is LeaseStatus.Reserved or LeaseStatus.Funded or LeaseStatus.Active)
        {
            await SaveAsync(await ReclaimAsync(lease, now));
        }
        else if (lease.Status == LeaseStatus.Reserved && now >= lease.FundBy)
        {
            await ReleaseSlotsAsync(lease);
            await SaveAsync(Transition(lease, LeaseStatus.Expired, LeaseReasons.ReservationNotFunded,
                $"no escrow seen on chain by {lease.FundBy:O}"));
        }
        else if (lease.Status == LeaseStatus.Funded && lease.StartsAt is { } startsAt && now >= startsAt)
        {
            await SaveAsync(Transition(lease with { StartedAt = startsAt }, LeaseStatus.Active, LeaseReasons.WindowStarted));
        }
        else if (lease.Status == LeaseStatus.Active && now >= lease.EndsAt)
        {
            await SaveAsync(await EndActiveAsync(lease, LeaseReasons.WindowElapsed));
        }
        else
        {
            if (WatchesSettlement(lease)) await Settlement(lease).EnsureSentAsync(Unpaid(lease)!);
            await ArmDeadlineAsync();
        }
    }

    /// <summary>Moves the lease off each reclaimed slot whose notice ran out; when no slot is free the lease ends (a reservation is cancelled).</summary>
    private async Task<LeaseSnapshot> ReclaimAsync(LeaseSnapshot lease, DateTimeOffset now)
    {
        foreach (var reclaim in lease.Reclaims.Where(r => r.At <= now).ToList())
        {
            lease = lease with { Reclaims = lease.Reclaims.Where(r => r != reclaim).ToList() };
            var (_, index) = MarketKeys.ParseSlot(reclaim.SlotKey);
            if (await Pool(lease).MoveAsync(Id, index) is { } moved)
            {
                lease = Transition(lease with { SlotKeys = lease.SlotKeys.Select(k => k == reclaim.SlotKey ? moved : k).ToList() },
                    lease.Status, LeaseReasons.MovedToSlot, $"from {reclaim.SlotKey} to {moved}");
                continue;
            }
            return lease.Status == LeaseStatus.Reserved
                ? Transition(await ReleasedAsync(lease), LeaseStatus.Cancelled, LeaseReasons.ProviderReclaimed, $"{reclaim.SlotKey} was taken back and no slot was free")
                : await EndActiveAsync(lease with { Reclaims = [] }, LeaseReasons.ProviderReclaimed);
        }
        return lease;
    }

    private async Task<LeaseSnapshot> ReleasedAsync(LeaseSnapshot lease)
    {
        await ReleaseSlotsAsync(lease);
        return lease with { Reclaims = [] };
    }

    private async Task<LeaseSnapshot> EndActiveAsync(LeaseSnapshot lease, string reason, string? why = null)
    {
        var endedAt = Now;
        // Never below a usage voucher the lease took: the tenant signed for that much (a host whose clock is a second
        // behind the one that took it must not bill less than was paid as it went).
        var owed = Credits.Max(BillAt(lease, endedAt), lease.LastVoucher?.Amount ?? Credits.Zero);
        await ReleaseSlotsAsync(lease);
        return Transition(lease with
        {
            EndedAt = endedAt,
            AmountOwed = owed,
            // The escrow closes at no less than it paid (its tenant may have paid more on chain itself).
            VoucherToSign = new VoucherRequest(Id, lease.ChainLeaseId, Credits.Max(owed, lease.Paid), IsFinal: true, lease.Channel ?? 0),
        }, LeaseStatus.Ended, reason, why is null ? $"owes {owed} of {lease.Deposit}" : $"{why}; owes {owed} of {lease.Deposit}");
    }

    private async Task SaveAsync(LeaseSnapshot lease)
    {
        var (leaseBefore, keyBefore) = (state.State.Lease, state.State.ApiKey);
        state.State.Lease = lease;
        // The inference key lives exactly as long as the lease is active: issued when it starts, revoked when it stops.
        if (lease.Status == LeaseStatus.Active) state.State.ApiKey ??= LeaseApiKeys.New(Id);
        else state.State.ApiKey = null;
        try
        {
            // The reminder that watches a voucher before the write that holds it: a crash between them leaves a reminder
            // with nothing to watch, which goes at its first tick, rather than a voucher nobody hands over.
            if (WatchesSettlement(lease) && !state.State.HasReminder)
            {
                await this.RegisterOrUpdateReminder(ClockReminder, _options.SettlementReminderPeriod, _options.SettlementReminderPeriod);
                state.State.HasReminder = true;
            }
            await state.WriteStateAsync();
        }
        catch
        {
            // What is not stored is not kept: a caller that retries (the chain watcher) must find the lease as it was.
            (state.State.Lease, state.State.ApiKey) = (leaseBefore, keyBefore);
            throw;
        }
        await ArmDeadlineAsync();
        // A closed lease has no deadline left and is rarely asked for again: its memory goes back now, not after the idle timeout.
        if (lease.Status.IsFinal()) this.DeactivateOnIdle();
    }

    /// <summary>
    /// Stores metered usage: it changes the usage and the bill, never the status, a deadline, the key or a voucher, so
    /// unlike <see cref="SaveAsync"/> there is no timer or reminder to arm again, only the write. This is on every
    /// inference request's path: re-registering the reminder there cost a reminder-table write per request.
    /// </summary>
    private async Task SaveUsageAsync(LeaseSnapshot lease)
    {
        var before = state.State.Lease;
        state.State.Lease = lease;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            state.State.Lease = before;
            throw;
        }
    }

    /// <summary>Keeps one timer and one reminder pointed at the next deadline, and none when there is no deadline left.</summary>
    private async Task ArmDeadlineAsync()
    {
        _deadlineTimer?.Dispose();
        _deadlineTimer = null;
        var statusDeadline = state.State.Lease switch
        {
            { Status: LeaseStatus.Reserved, FundBy: { } fundBy } => fundBy,
            { Status: LeaseStatus.Funded, StartsAt: { } startsAt } => startsAt,
            { Status: LeaseStatus.Active, EndsAt: { } endsAt } => endsAt,
            _ => (DateTimeOffset?)null,
        };
        var reclaimDeadline = statusDeadline is null ? null : state.State.Lease!.Reclaims.Select(r => (DateTimeOffset?)r.At).Min();
        var deadline = reclaimDeadline < statusDeadline ? reclaimDeadline : statusDeadline;
        var watching = state.State.Lease is { } lease && WatchesSettlement(lease);

        TimeSpan? reminderDue = null;
        if (deadline is { } due)
        {
            var dueIn = due - Now;
            if (dueIn < TimeSpan.Zero) dueIn = TimeSpan.Zero;
            _deadlineTimer = this.RegisterGrainTimer(_ => OnDeadlineAsync(), new GrainTimerCreationOptions
            {
                DueTime = dueIn,
                Period = Timeout.InfiniteTimeSpan,
                KeepAlive = true,
            });
            // A reservation's funding deadline is backed by its pool's sweep (one reminder per pool, not per lease), which
            // looks at slots held for funding; later deadlines (start of a block, end of the window, a reclaim), and a
            // reservation whose slots were activated before a reorganization removed its escrow (it has EndsAt), by the
            // lease's own reminder.
            if (state.State.Lease! is { Status: not LeaseStatus.Reserved } or { EndsAt: not null }) reminderDue = dueIn + TimeSpan.FromSeconds(1);
        }
        // A voucher not seen paid is handed to its queue again at every tick, the first a period from now.
        if (watching && (reminderDue is null || reminderDue > _options.SettlementReminderPeriod)) reminderDue = _options.SettlementReminderPeriod;
        if (reminderDue is { } reminderIn)
        {
            await this.RegisterOrUpdateReminder(ClockReminder, reminderIn, watching ? _options.SettlementReminderPeriod : TimeSpan.FromMinutes(1));
            await SetHasReminderAsync(true);
            return;
        }
        if (state.State.HasReminder && await this.GetReminder(ClockReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
        await SetHasReminderAsync(false);
    }

    private async Task SetHasReminderAsync(bool hasReminder)
    {
        if (state.State.HasReminder == hasReminder) return;
        state.State.HasReminder = hasReminder;
        await state.WriteStateAsync();
    }

    private static Credits TokenBill(LeaseSnapshot lease) =>
        LeaseBilling.OwedForTokens(AcceleratorCatalog.Require(lease.Request.Kind).PricePerMillionTokens(lease.PricePerSlotHour),
            lease.Usage.TotalTokens, EscrowHolds(lease));

    /// <summary>What the escrow holds: as the chain reported it once funded (with top-ups), else the deposit the lease asks for.</summary>
    private static Credits EscrowHolds(LeaseSnapshot lease) => Credits.Max(lease.Escrowed, lease.Deposit);

    /// <summary>
    /// Why a lease must be paid before it runs more, or null: a token-billed lease's bill is within a margin of what the
    /// escrow holds (top up); or what the lease owes so far, for its tokens or its time, is unpaid by the tenant's voucher
    /// threshold or more (sign a voucher for it). Billed by the hour, the bill grows with time (by the second, at least a
    /// minute), never past the deposit.
    /// </summary>
    private InferenceAdmission? PaymentDue(LeaseSnapshot lease)
    {
        if (lease.Request.BillBy == LeaseBillingMode.Tokens)
        {
            var escrowed = EscrowHolds(lease);
            var margin = Credits.FromUnits(escrowed.Units * _options.EscrowLowPercent / 100);
            if (lease.AmountOwed + margin >= escrowed)
                return new InferenceAdmission(AdmissionOutcome.PaymentRequired,
                    Message: $"The lease owes {lease.AmountOwed} of the {escrowed} its escrow holds; top it up (occ lease top-up) to go on.");
        }
        // A threshold of zero or less was never taken (LeaseRequestRules); one stored before that asks for nothing.
        if (lease.Request.VoucherEvery is not { } every || every <= Credits.Zero) return null;
        var owed = OwedNow(lease);
        var vouchered = Credits.Max(lease.LastVoucher?.Amount ?? Credits.Zero, lease.Paid);
        return owed - vouchered >= every
            ? new InferenceAdmission(AdmissionOutcome.PaymentRequired, AmountToSign: owed, ChannelToSign: lease.Channel,
                Message: $"{owed - vouchered} of usage is unpaid (the threshold is {every}); sign a voucher for {owed} to go on.")
            : null;
    }

    /// <summary>What the lease owes now: its fixed bill once ended, else what ending it now would bill (<see cref="BillAt"/>).</summary>
    private Credits OwedNow(LeaseSnapshot lease) => lease.EndedAt is null ? BillAt(lease, Now) : lease.AmountOwed;

    /// <summary>
    /// The bill of a lease ended at <paramref name="at"/>: its tokens, or its time by the second (at least
    /// <see cref="MarketOptions.MinimumBilled"/>, at most its deposit); nothing for a block that never started.
    /// </summary>
    private Credits BillAt(LeaseSnapshot lease, DateTimeOffset at) =>
        lease.StartedAt is not { } startedAt ? Credits.Zero
        : lease.Request.BillBy == LeaseBillingMode.Tokens ? TokenBill(lease)
        : LeaseBilling.Owed(lease.PricePerSlotHour, lease.Request.Slots, lease.Request.Hours, at - startedAt, _options.MinimumBilled);

    /// <summary>
    /// Vouchers count on chain only for the lease's channel and when signed by the lease's signer: its session key if it
    /// named one, else the tenant. A voucher of a bundle counts when its bundle holds it and the bundle's signer is the
    /// lease's: the escrow checks the one signature for every member.
    /// </summary>
    private void RequireSignedByLease(LeaseSnapshot lease, SignedVoucher voucher)
    {
        if (lease.Channel is { } channel && voucher.Channel != channel)
            throw MarketException.Invalid("channel", "WrongChannel",
                $"The lease's escrow is on channel {channel} of its signer; the voucher names channel {voucher.Channel}, where it would pay nothing.");
        if (!voucherVerifier.IsInItsBundle(voucher))
            throw MarketException.Invalid("bundle", "NotInBundle",
                "The voucher's bundle does not hold this voucher (its lease, channel, amount and finality as signed), or is not whole 27-byte items; its signature signs nothing for this lease.");
        var signer = voucherVerifier.RecoverSigner(voucher);
        if (signer is null || AccountKeys.Normalize(signer) != (lease.VoucherSigner ?? lease.Tenant))
            throw MarketException.Invalid("signature", "BadSignature",
                $"The voucher is not signed by the lease's {(lease.VoucherSigner is null ? "tenant" : "session key")} for this escrow contract.");
    }

    private static readonly InferenceAdmission NotAuthorized =
        new(AdmissionOutcome.Unauthorized, Message: "The key is not valid for an active lease (a lease's key is revoked when it ends).");

    private LeaseSnapshot? ActiveLeaseFor(string apiKey) =>
        state.State is { Lease: { Status: LeaseStatus.Active } lease, ApiKey: { } key }
        && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(apiKey))
            ? lease
            : null;

    private LeaseSnapshot OwnedBy(string tenant)
    {
        var lease = Lease;
        if (AccountKeys.Normalize(tenant) != lease.Tenant)
            throw new MarketException(MarketError.NotYourLease, "NotYourLease", $"Lease '{LeaseIds.Format(Id)}' belongs to another tenant.");
        return lease;
    }

    private Task ReleaseSlotsAsync(LeaseSnapshot lease) => Pool(lease).ReleaseAsync(Id);

    private IPoolGrain Pool(LeaseSnapshot lease) => GrainReferences.Get<IPoolGrain>(GrainFactory, lease.PoolKey!);

    private ISettlementGrain Settlement(LeaseSnapshot lease) => GrainFactory.GetGrain<ISettlementGrain>(lease.ProviderAddress!);

    /// <summary>Where the lease's history records <paramref name="closing"/> (its ClosingOnChain names the transaction), or -1.</summary>
    private static int ClosingSeenAt(LeaseSnapshot lease, EscrowClosing closing) =>
        lease.History.ToList().FindIndex(t => t.Reason == LeaseReasons.ClosingOnChain && t.Detail?.Contains(closing.TransactionHash) == true);

    private IAccountGrain Account(string address) => GrainFactory.GetGrain<IAccountGrain>(AccountKeys.Normalize(address));

    /// <summary>The lease's latest voucher while the lease has not seen it paid: a final one until the escrow is closed, a usage one while above what is paid.</summary>
    private static SignedVoucher? Unpaid(LeaseSnapshot lease) =>
        !lease.Status.IsFinal() && (lease.FinalVoucher ?? lease.LastVoucher) is { } voucher && (voucher.IsFinal || voucher.Amount > lease.Paid) ? voucher : null;

    /// <summary>
    /// Whether the lease's reminder watches its <see cref="Unpaid"/> voucher: while there is one and the escrow can still
    /// take it (until its expiry plus the claim window; after that the tenant may take back what is not paid).
    /// </summary>
    private bool WatchesSettlement(LeaseSnapshot lease) =>
        Unpaid(lease) is not null && lease.ProviderAddress is not null
        && SettlementRetry.SettleableUntil(lease, _options.ClaimWindow) is { } until && Now < until;

    private LeaseSnapshot Transition(LeaseSnapshot lease, LeaseStatus status, string reason, string? detail = null) =>
        LeaseTransitions.Apply(lease, status, reason, detail, Now, logger);

    private static string? EscrowMismatch(LeaseSnapshot lease, EscrowFunded funded)
    {
        if (AccountKeys.Normalize(funded.Tenant) != lease.Tenant) return $"escrow opened by {funded.Tenant}, not the tenant {lease.Tenant}";
        if (AccountKeys.Normalize(funded.Provider) != lease.ProviderAddress) return $"escrow pays {funded.Provider}, not the provider {lease.ProviderAddress}";
        if (funded.Deposit < lease.Deposit) return $"escrow holds {funded.Deposit}, the lease needs {lease.Deposit}";
        if (funded.Expiry < lease.EscrowExpiry) return $"escrow expires {funded.Expiry:O}, the lease needs {lease.EscrowExpiry:O}";
        return null;
    }
}
