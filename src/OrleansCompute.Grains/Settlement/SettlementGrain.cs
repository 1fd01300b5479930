using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Grains.Settlement;

[GenerateSerializer, Alias("occ.settlement-state")]
public sealed class SettlementState
{
    [Id(0)] public List<SettlementItem> Items { get; set; } = [];
    [Id(1)] public int BatchesSubmitted { get; set; }
}

/// <summary>
/// One provider's settlement queue. Vouchers are persisted before they are acknowledged, gathered for a
/// moment and sent as settleBatch transactions, several in flight at once (consecutive nonces from the operator's one
/// sender), so the queue never waits for one receipt before sending the next batch. The contract applies the good
/// vouchers of a batch and reports each bad one, which is rejected to its lease; a batch that reverts as a whole is
/// retried item by item, so one bad voucher cannot hold back the others; a chain that cannot be reached keeps the items
/// queued and retries. A refusal that can pass (see <see cref="SettlementRetry"/>) is tried again, with growing waits,
/// while the lease's escrow can still take the voucher; any other is final. A voucher is in at most one batch in flight,
/// and the contract pays a voucher once however often it is sent. The members of a bundle (one signature over several
/// leases' vouchers) go in one batch, which carries the whole bundle; a member queued after its bundle went on chain is
/// recorded in that transaction instead of sent again. While any item is queued or submitted a reminder wakes the queue,
/// so that a restart, which ends its timers, does not leave vouchers unsent.
/// </summary>
/// <remarks>
/// Reentrant so that vouchers keep arriving while batches wait for their receipts. Every await leaves the state
/// consistent: items are only appended or have their status replaced, and the vouchers of batches in flight are
/// tracked in memory. Changes made together share one state write (see <see cref="PersistAsync"/>).
/// </remarks>
[Reentrant]
public sealed class SettlementGrain(
    [PersistentState("settlement", GrainStorage.Market)] IPersistentState<SettlementState> state,
    IEscrowSettlement chain,
    IOptions<MarketOptions> options,
    TimeProvider clock,
    ILogger<SettlementGrain> logger) : Grain, ISettlementGrain, IRemindable
{
    /// <summary>How long the first change waits for others to share its write; about one timer tick.</summary>
    private static readonly TimeSpan GroupCommitDelay = TimeSpan.FromMilliseconds(1);

    private const string WakeReminder = "settlement-wake";

    private readonly MarketOptions _options = options.Value;

    /// <summary>Each voucher's latest item (its index in the state's list), so a lookup does not scan the queue.</summary>
    private readonly Dictionary<SignedVoucher, int> _latest = [];

    /// <summary>Vouchers in a batch that is being sent; the pump does not put them in another.</summary>
    private readonly HashSet<SignedVoucher> _inFlight = [];

    /// <summary>Vouchers in flight asked to be sent again (<see cref="ResendAsync"/>): queued again once their receipt is in.</summary>
    private readonly HashSet<SignedVoucher> _resendAfterReceipt = [];

    /// <summary>One registration or removal of the reminder at a time, each deciding on the queue as it is then.</summary>
    private readonly SemaphoreSlim _reminderGate = new(1, 1);

    private bool _hasReminder;
    private IGrainTimer? _flushTimer;
    private DateTimeOffset _flushDue;
    private IGrainTimer? _confirmTimer;
    private bool _pumping;
    private Task _lastWrite = Task.CompletedTask;
    private Task? _nextWrite;

    /// <summary>The last write failed: memory holds changes the store may not.</summary>
    private bool _unsaved;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        for (var i = 0; i < state.State.Items.Count; i++) _latest[state.State.Items[i].Voucher] = i;
        if (HasUnfinished())
        {
            await this.RegisterOrUpdateReminder(WakeReminder, _options.SettlementReminderPeriod, _options.SettlementReminderPeriod);
            _hasReminder = true;
        }
        ArmTimers();
        await base.OnActivateAsync(cancellationToken);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != WakeReminder) return;
        // The tick's work is waking the grain: activation armed its timers. An active grain arms again any it lacks.
        ArmTimers();
        await ReleaseReminderIfDoneAsync(tick: true);
    }

    public async Task EnqueueAsync(SignedVoucher voucher)
    {
        if (_latest.TryGetValue(voucher, out var known))
        {
            var item = state.State.Items[known];
            if (item.Status != SettlementItemStatus.Rejected)
            {
                // Handed in again (its first acknowledgement may have been lost): acknowledged once it is as safe as the first.
                await EnsureReminderAsync();
                await SavedAsync();
                return;
            }
            // Refused for good, and handed in again by its lease: tried once more, in the same item.
            state.State.Items[known] = item with
            {
                Status = SettlementItemStatus.Queued, Refusals = 0, NotBefore = null, Error = $"refused ({item.Error}) and handed in again",
            };
        }
        else
        {
            _latest[voucher] = state.State.Items.Count;
            state.State.Items.Add(new SettlementItem(voucher, SettlementItemStatus.Queued, clock.GetUtcNow()));
        }
        // The reminder first: once the voucher is acknowledged, a restart must find both.
        await EnsureReminderAsync();
        await PersistAsync();
        ScheduleFlush(_options.SettlementFlushDelay);
    }

    public async Task ResendAsync(SignedVoucher voucher)
    {
        if (!_latest.TryGetValue(voucher, out var known))
        {
            await EnqueueAsync(voucher);
            return;
        }
        if (_inFlight.Contains(voucher))
        {
            // Its receipt may say what no longer holds (UnknownLease for an escrow mined again meanwhile): decided after it.
            _resendAfterReceipt.Add(voucher);
            return;
        }
        var item = state.State.Items[known];
        var why = item.Status switch
        {
            SettlementItemStatus.Submitted or SettlementItemStatus.Confirmed => $"its payment in {item.TransactionHash} was removed by a chain reorganization; sent again",
            SettlementItemStatus.Rejected => $"refused ({item.Error}) before its escrow changed on chain; sent again",
            _ when item.NotBefore is not null => $"{item.Error}; its escrow changed on chain, sent again now",
            _ => null,
        };
        if (why is not null)
        {
            state.State.Items[known] = item with { Status = SettlementItemStatus.Queued, Refusals = 0, NotBefore = null, Error = why };
            logger.LogWarning("Voucher for lease {LeaseId}: {Why}", LeaseIds.Format(voucher.LeaseId), why);
        }
        await EnsureReminderAsync();
        await PersistAsync();
        ScheduleFlush(_options.SettlementFlushDelay);
    }

    public async Task EnsureSentAsync(SignedVoucher voucher)
    {
        if (!_latest.TryGetValue(voucher, out var known))
        {
            await EnqueueAsync(voucher);
            return;
        }
        var item = state.State.Items[known];
        if (item.Status == SettlementItemStatus.Confirmed && !_inFlight.Contains(voucher))
        {
            state.State.Items[known] = item with
            {
                Status = SettlementItemStatus.Queued,
                Error = $"confirmed in {item.TransactionHash}, yet its lease has not seen it paid (a reorganization removed the payment); sent again",
            };
            logger.LogWarning("Voucher for lease {LeaseId} was confirmed but its lease has not seen it paid; sending it again", LeaseIds.Format(voucher.LeaseId));
            await EnsureReminderAsync();
            await PersistAsync();
            ScheduleFlush(_options.SettlementFlushDelay);
            return;
        }
        if (item.Status is SettlementItemStatus.Queued or SettlementItemStatus.Submitted)
        {
            await EnsureReminderAsync();
            await SavedAsync();
            ArmTimers();
        }
    }

    public ValueTask<SettlementSnapshot> GetAsync() =>
        ValueTask.FromResult(new SettlementSnapshot(this.GetPrimaryKeyString(), state.State.Items.ToList(), state.State.BatchesSubmitted));

    /// <summary>Whether the queue has work left that needs waking for: an item queued or submitted.</summary>
    private bool HasUnfinished() => state.State.Items.Any(i => i.Status is SettlementItemStatus.Queued or SettlementItemStatus.Submitted);

    /// <summary>Registers the reminder unless it is (once per activation that needs it, not per voucher).</summary>
    private async Task EnsureReminderAsync()
    {
        // Taken without the gate only when no removal is under way, which could have decided before this item came.
        if (_hasReminder && _reminderGate.CurrentCount > 0) return;
        await _reminderGate.WaitAsync();
        try
        {
            if (_hasReminder) return;
            await this.RegisterOrUpdateReminder(WakeReminder, _options.SettlementReminderPeriod, _options.SettlementReminderPeriod);
            _hasReminder = true;
        }
        finally
        {
            _reminderGate.Release();
        }
    }

    /// <summary>Removes the reminder once nothing is queued or submitted; <paramref name="tick"/>, also one an earlier activation left.</summary>
    private async Task ReleaseReminderIfDoneAsync(bool tick = false)
    {
        if (!_hasReminder && !tick) return;
        await _reminderGate.WaitAsync();
        try
        {
            if ((!_hasReminder && !tick) || HasUnfinished()) return;
            if (await this.GetReminder(WakeReminder) is { } reminder) await this.UnregisterReminder(reminder);
            _hasReminder = false;
        }
        finally
        {
            _reminderGate.Release();
        }
    }

    /// <summary>Arms the flush for what is queued (when its wait ends, for an item refused for a reason that can pass) and the confirmation check for what is submitted.</summary>
    private void ArmTimers()
    {
        if (NextQueuedAt() is { } due) ScheduleFlush(Max(due - clock.GetUtcNow(), _options.SettlementFlushDelay));
        if (state.State.Items.Any(i => i.Status == SettlementItemStatus.Submitted)) ScheduleConfirmCheck();
    }

    /// <summary>When the earliest queued item not in flight may be sent; null when there is none.</summary>
    private DateTimeOffset? NextQueuedAt()
    {
        DateTimeOffset? next = null;
        foreach (var item in state.State.Items)
        {
            if (item.Status != SettlementItemStatus.Queued || _inFlight.Contains(item.Voucher)) continue;
            var at = item.NotBefore ?? DateTimeOffset.MinValue;
            if (next is null || at < next) next = at;
        }
        return next;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>Completes once every change made so far is stored: the write pending or running, or a new one when the last failed.</summary>
    private Task SavedAsync() => _nextWrite ?? (_unsaved ? PersistAsync() : _lastWrite);

    /// <summary>
    /// Writes the state, shared by every change made before the write starts (a group commit): the first change waits
    /// <see cref="GroupCommitDelay"/>, so vouchers arriving meanwhile join its write, and a write never overlaps the one
    /// before it. Each caller returns only once a write that holds its change has completed. The state holds every item,
    /// so a write per voucher would cost the whole queue per voucher: a burst of n vouchers, n² items serialized.
    /// </summary>
    private Task PersistAsync() => _nextWrite ??= WriteAfterAsync(_lastWrite);

    private async Task WriteAfterAsync(Task previous)
    {
        await Task.Delay(GroupCommitDelay);
        try
        {
            await previous;
        }
        catch
        {
            // The previous write's own callers hear of its failure; this one writes the whole state again.
        }
        _nextWrite = null;
        var write = _lastWrite = state.WriteStateAsync();
        try
        {
            await write;
            _unsaved = false;
        }
        catch
        {
            _unsaved = true;
            throw;
        }
    }

    /// <summary>Flushes after <paramref name="delay"/>, or sooner if a flush is due sooner already; nothing while the pump runs, which sends what is queued and then arms what is left.</summary>
    private void ScheduleFlush(TimeSpan delay)
    {
        if (_pumping) return;
        if (delay < TimeSpan.Zero) delay = TimeSpan.Zero;
        var due = clock.GetUtcNow() + delay;
        if (_flushTimer is not null)
        {
            if (_flushDue <= due) return;
            _flushTimer.Change(delay, Timeout.InfiniteTimeSpan);
            _flushDue = due;
            return;
        }
        _flushDue = due;
        _flushTimer = this.RegisterGrainTimer(FlushAsync, new GrainTimerCreationOptions
        {
            DueTime = delay,
            Period = Timeout.InfiniteTimeSpan,
            KeepAlive = true,
            // The pump waits for receipts; vouchers must keep arriving meanwhile.
            Interleave = true,
        });
    }

    /// <summary>
    /// Sends what is queued: up to <see cref="MarketOptions.MaxBatchesInFlight"/> batches at once, a full batch whenever
    /// one is ready and a partial one only when none is in flight, until the queue is empty. Vouchers that arrive
    /// meanwhile join it. After a batch could not reach the chain nothing new is sent, and the queue is tried again later.
    /// </summary>
    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        // Disposing the timer would cancel this callback's token, so it is only let go of here and disposed at the end.
        using var firedTimer = _flushTimer;
        _flushTimer = null;
        if (_pumping) return;
        _pumping = true;
        var sending = new List<Task<bool>>();
        var unreachable = false;
        try
        {
            while (true)
            {
                if (RecordBundlesAlreadySent())
                {
                    ScheduleConfirmCheck();
                    await PersistAsync();
                }
                while (!unreachable && sending.Count < Math.Max(1, _options.MaxBatchesInFlight) && NextBatch(partial: sending.Count == 0) is { } batch)
                    sending.Add(SendAsync(batch, cancellationToken));
                if (sending.Count == 0) break;

                var done = await Task.WhenAny(sending);
                sending.Remove(done);
                unreachable |= !await done;
            }
        }
        finally
        {
            _pumping = false;
        }

        if (unreachable) ScheduleFlush(_options.SettlementRetryDelay);
        else if (NextQueuedAt() is { } due) ScheduleFlush(due - clock.GetUtcNow());
    }

    /// <summary>Queued items that may go in a batch now: not in flight, and not waiting after a refusal that can pass.</summary>
    private IEnumerable<SettlementItem> Queued()
    {
        var now = clock.GetUtcNow();
        return state.State.Items.Where(i => i.Status == SettlementItemStatus.Queued && !_inFlight.Contains(i.Voucher) && !(i.NotBefore > now));
    }

    private List<SettlementItem>? NextBatch(bool partial) => SettlementBatching.NextBatch(Queued(), _options.MaxBatchSize, partial);

    /// <summary>
    /// Queued members of a bundle that already went on chain with another member are recorded as submitted in that
    /// transaction, where the escrow applied the whole bundle: sent again, they would only be skipped as paid. The
    /// confirmation check holds them to it: one whose lease does not see it paid is queued again and sent. Only a member
    /// never sent is taken so, so that one queued again is sent.
    /// </summary>
    /// <returns>Whether any item changed.</returns>
    private bool RecordBundlesAlreadySent()
    {
        var waiting = Queued().Where(i => i.Voucher.Bundle is not null && i.TransactionHash is null).ToList();
        if (waiting.Count == 0) return false;
        var sent = state.State.Items
            .Where(i => i.Voucher.Bundle is not null && i.Status is SettlementItemStatus.Submitted or SettlementItemStatus.Confirmed && i.TransactionHash is not null)
            .GroupBy(i => SettlementBatching.BundleOf(i.Voucher))
            .ToDictionary(g => g.Key, g => g.MaxBy(i => i.SubmittedAt)!.TransactionHash);
        var now = clock.GetUtcNow();
        var changed = false;
        foreach (var item in waiting)
        {
            if (!sent.TryGetValue(SettlementBatching.BundleOf(item.Voucher), out var transaction)) continue;
            state.State.Items[_latest[item.Voucher]] = item with { Status = SettlementItemStatus.Submitted, TransactionHash = transaction, SubmittedAt = now };
            changed = true;
        }
        return changed;
    }

    /// <returns>False when the chain could not be reached; the batch's items stay queued.</returns>
    private async Task<bool> SendAsync(List<SettlementItem> batch, CancellationToken cancellationToken)
    {
        foreach (var item in batch) _inFlight.Add(item.Voucher);
        var reached = true;
        try
        {
            var receipt = await SubmitAsync(batch, cancellationToken);
            if (!receipt.Succeeded && batch.Count > 1)
            {
                foreach (var item in batch) await SubmitAsync([item], cancellationToken);
            }
        }
        catch (Exception exception)
        {
            logger.LogWarning(exception, "Settlement of {Count} voucher(s) for {Provider} could not reach the chain; retrying", batch.Count, this.GetPrimaryKeyString());
            reached = false;
        }
        finally
        {
            foreach (var item in batch) _inFlight.Remove(item.Voucher);
        }
        await QueueAgainWhatWasAskedInFlightAsync(batch);
        return reached;
    }

    /// <summary>Queues again each voucher of the batch that <see cref="ResendAsync"/> asked for while it was in flight, whatever its receipt said.</summary>
    private async Task QueueAgainWhatWasAskedInFlightAsync(List<SettlementItem> batch)
    {
        if (_resendAfterReceipt.Count == 0) return;
        var changed = false;
        foreach (var sent in batch)
        {
            if (!_resendAfterReceipt.Remove(sent.Voucher)) continue;
            var index = _latest[sent.Voucher];
            var item = state.State.Items[index];
            if (item.Status == SettlementItemStatus.Queued && item.NotBefore is null) continue;
            var outcome = item.Status == SettlementItemStatus.Queued ? item.Error : $"{item.Status}{(item.Status == SettlementItemStatus.Rejected ? $" ({item.Error})" : "")}";
            state.State.Items[index] = item with
            {
                Status = SettlementItemStatus.Queued, Refusals = 0, NotBefore = null,
                Error = $"{outcome} in {item.TransactionHash}, sent before its escrow changed on chain; sent again",
            };
            changed = true;
        }
        if (!changed) return;
        try
        {
            await EnsureReminderAsync();
            await PersistAsync();
        }
        catch (Exception exception)
        {
            // Queued in memory all the same: the pump sends them, and the next write stores them.
            logger.LogWarning(exception, "Could not store the vouchers for {Provider} queued again after their receipt", this.GetPrimaryKeyString());
        }
    }

    /// <summary>
    /// Sends one batch and records its outcome. A voucher refused for a reason that can pass waits and is tried again while
    /// its lease's escrow can take it; one refused otherwise, or too late, is rejected. Rejections are reported to their
    /// leases: a final one always, one tried again the first time.
    /// </summary>
    private async Task<SettlementReceipt> SubmitAsync(IReadOnlyList<SettlementItem> batch, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.SettlementTimeout);
        var receipt = await chain.SettleBatchAsync(batch.Select(i => i.Voucher).ToList(), timeout.Token);

        // The contract applies what it can of a batch and names each voucher it refused; a whole batch that reverts
        // names one error, which belongs to its voucher only when it is alone.
        var refused = new Dictionary<SignedVoucher, string>();
        if (receipt.Succeeded)
        {
            var reasons = (receipt.Rejections ?? []).ToLookup(r => r.LeaseId, r => r.Reason);
            foreach (var item in batch.Where(i => reasons.Contains(i.Voucher.LeaseId))) refused[item.Voucher] = reasons[item.Voucher.LeaseId].First();
        }
        else if (batch.Count == 1)
        {
            refused[batch[0].Voucher] = receipt.Error ?? "rejected";
        }
        else
        {
            return receipt;
        }

        // Asked of their leases before any item changes, so that the items change together between awaits.
        var asked = refused.Keys.Where(v => SettlementRetry.MayPass(refused[v]) || SettlementRetry.LeavesPaymentOpen(refused[v])).ToList();
        var leases = (await Task.WhenAll(asked.Select(v => GrainFactory.GetGrain<ILeaseGrain>(v.LeaseId).GetAsync().AsTask())))
            .Zip(asked, (lease, voucher) => (voucher, lease)).ToDictionary(p => p.voucher, p => p.lease);
        var until = asked.Where(v => SettlementRetry.MayPass(refused[v]))
            .ToDictionary(v => v, v => SettlementRetry.SettleableUntil(leases[v], _options.ClaimWindow));

        var now = clock.GetUtcNow();
        var reports = new List<(SignedVoucher Voucher, string Reason)>();
        Replace(batch, item =>
        {
            if (!refused.TryGetValue(item.Voucher, out var reason))
                return item with { Status = SettlementItemStatus.Submitted, TransactionHash = receipt.TransactionHash, SubmittedAt = now, Refusals = 0, NotBefore = null };
            if (SettlementRetry.LeavesPaymentOpen(reason) && leases.GetValueOrDefault(item.Voucher) is { } lease)
            {
                // The escrow is closed, perhaps by this very voucher: what its lease has seen decides, as for a voucher submitted.
                if (SeenOnChain(item.Voucher, lease))
                    return item with { Status = SettlementItemStatus.Confirmed, TransactionHash = lease.SettlementTransaction ?? item.TransactionHash, Refusals = 0, NotBefore = null };
                if (!lease.Status.IsFinal())
                {
                    logger.LogInformation("Voucher for lease {LeaseId} refused on chain ({Reason}): its escrow is closed, and whether this voucher paid it is up to the chain watcher",
                        LeaseIds.Format(item.Voucher.LeaseId), reason);
                    return item with
                    {
                        Status = SettlementItemStatus.Submitted, TransactionHash = receipt.TransactionHash, SubmittedAt = now, Refusals = 0, NotBefore = null,
                        Error = $"{reason}: its escrow is closed, perhaps by this voucher; its lease has not seen the close yet",
                    };
                }
            }
            var refusals = item.Refusals + 1;
            if (until.GetValueOrDefault(item.Voucher) is { } settleable && now < settleable)
            {
                var at = now + SettlementRetry.Backoff(refusals, _options.SettlementRetryDelay, _options.SettlementRetryMaxDelay);
                if (refusals == 1) reports.Add((item.Voucher, $"{reason}: may pass; tried again until {settleable:O}"));
                logger.LogWarning("Voucher for lease {LeaseId} refused on chain ({Reason}, {Refusals} time(s) in a row); trying again at {At:O}",
                    LeaseIds.Format(item.Voucher.LeaseId), reason, refusals, at);
                return item with { Status = SettlementItemStatus.Queued, TransactionHash = receipt.TransactionHash, Error = reason, Refusals = refusals, NotBefore = at };
            }
            reports.Add((item.Voucher, reason));
            logger.LogWarning("Voucher for lease {LeaseId} rejected on chain: {Reason}", LeaseIds.Format(item.Voucher.LeaseId), reason);
            return item with { Status = SettlementItemStatus.Rejected, TransactionHash = receipt.TransactionHash, Error = reason, Refusals = refusals, NotBefore = null };
        });
        if (receipt.Succeeded)
        {
            state.State.BatchesSubmitted++;
            ScheduleConfirmCheck();
        }
        await PersistAsync();
        await ReleaseReminderIfDoneAsync();

        foreach (var (voucher, reason) in reports)
            await GrainFactory.GetGrain<ILeaseGrain>(voucher.LeaseId).SettlementRejectedAsync(reason);
        return receipt;
    }

    /// <summary>How often submitted vouchers are checked against what their leases have seen paid.</summary>
    private TimeSpan ConfirmCheckInterval => TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(200).Ticks, _options.SettlementConfirmTimeout.Ticks / 4));

    /// <summary>The most submitted vouchers one check asks their leases about.</summary>
    private const int ConfirmChecksPerTick = 500;

    private void ScheduleConfirmCheck()
    {
        if (_confirmTimer is not null) return;
        _confirmTimer = this.RegisterGrainTimer(CheckConfirmationsAsync, new GrainTimerCreationOptions
        {
            DueTime = ConfirmCheckInterval,
            Period = Timeout.InfiniteTimeSpan,
            KeepAlive = true,
            Interleave = true,
        });
    }

    /// <summary>Whether the lease has seen the voucher applied (<see cref="SignedVoucher.IsSeenBy"/>).</summary>
    private static bool SeenOnChain(SignedVoucher voucher, LeaseSnapshot lease) => voucher.IsSeenBy(lease.Paid, lease.Status);

    /// <summary>
    /// A submitted voucher is Confirmed once its lease has seen it applied on chain (<see cref="SeenOnChain"/>; the chain
    /// watcher tells the lease, after the configured confirmations). One still unseen after
    /// <see cref="MarketOptions.SettlementConfirmTimeout"/> is queued again: its transaction's block may have been
    /// dropped. Sending it again never pays twice, as the contract skips a voucher that is not above what is paid.
    /// </summary>
    private async Task CheckConfirmationsAsync(CancellationToken cancellationToken)
    {
        using var firedTimer = _confirmTimer;
        _confirmTimer = null;
        var now = clock.GetUtcNow();
        var submitted = state.State.Items.Where(i => i.Status == SettlementItemStatus.Submitted).Take(ConfirmChecksPerTick).ToList();
        var leases = await Task.WhenAll(submitted.Select(i => GrainFactory.GetGrain<ILeaseGrain>(i.Voucher.LeaseId).GetAsync().AsTask()));
        var changed = false;
        var requeued = 0;
        for (var i = 0; i < submitted.Count; i++)
        {
            var item = submitted[i];
            var index = _latest[item.Voucher];
            if (state.State.Items[index].Status != SettlementItemStatus.Submitted) continue;
            if (leases[i] is { } lease && SeenOnChain(item.Voucher, lease))
            {
                state.State.Items[index] = item with { Status = SettlementItemStatus.Confirmed };
                changed = true;
            }
            else if (leases[i] is { } closed && closed.Status.IsFinal())
            {
                // The watcher handed the lease its escrow's close, after every payment of the closing transaction: the escrow
                // closed without this voucher and takes nothing more (a reorganization that removes the close hands the voucher
                // in again). The lease, final, is not told.
                state.State.Items[index] = item with
                {
                    Status = SettlementItemStatus.Rejected,
                    Error = $"{(item.Error is { } error ? $"{error}; " : "")}its lease saw the escrow close ({closed.Status}, {closed.Paid} paid) without it",
                };
                changed = true;
            }
            else if (item.SubmittedAt + _options.SettlementConfirmTimeout <= now)
            {
                state.State.Items[index] = item with { Status = SettlementItemStatus.Queued, Error = $"not seen on chain {_options.SettlementConfirmTimeout.TotalSeconds:0} s after {item.TransactionHash}; sent again" };
                changed = true;
                requeued++;
            }
        }
        if (changed)
        {
            PruneFinished();
            await PersistAsync();
        }
        if (requeued > 0)
        {
            logger.LogWarning("{Count} settled voucher(s) for {Provider} not seen on chain in time; sending them again", requeued, this.GetPrimaryKeyString());
            ScheduleFlush(TimeSpan.Zero);
        }
        if (state.State.Items.Any(i => i.Status == SettlementItemStatus.Submitted)) ScheduleConfirmCheck();
        await ReleaseReminderIfDoneAsync();
    }

    /// <summary>Finished items (confirmed or rejected) kept for <c>occ inspect settlement</c>; older ones are dropped.</summary>
    private const int FinishedItemsKept = 1_000;

    /// <summary>
    /// Drops the oldest finished items beyond <see cref="FinishedItemsKept"/>: the state is written whole, so a queue that
    /// only grew would cost more with every voucher. Runs between awaits, and re-indexes what is left.
    /// </summary>
    private void PruneFinished()
    {
        var finished = state.State.Items.Count(i => i.Status is SettlementItemStatus.Confirmed or SettlementItemStatus.Rejected);
        if (finished <= FinishedItemsKept) return;
        var drop = finished - FinishedItemsKept;
        state.State.Items.RemoveAll(i => i.Status is SettlementItemStatus.Confirmed or SettlementItemStatus.Rejected && drop-- > 0);
        _latest.Clear();
        for (var i = 0; i < state.State.Items.Count; i++) _latest[state.State.Items[i].Voucher] = i;
    }

    /// <summary>Replaces each item of the batch (its voucher's latest item: the one queued) by its update.</summary>
    private void Replace(IEnumerable<SettlementItem> batch, Func<SettlementItem, SettlementItem> update)
    {
        foreach (var item in batch)
        {
            var index = _latest[item.Voucher];
            state.State.Items[index] = update(state.State.Items[index]);
        }
    }
}
