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
/// moment and sent as one settleBatch. The contract applies the good vouchers of a batch and reports each bad one,
/// which is rejected to its lease; a batch that reverts as a whole is retried item by item, so one bad voucher cannot
/// hold back the others; a chain that cannot be reached keeps the items queued and retries.
/// </summary>
public sealed class SettlementGrain(
    [PersistentState("settlement", GrainStorage.Market)] IPersistentState<SettlementState> state,
    IEscrowSettlement chain,
    IOptions<MarketOptions> options,
    TimeProvider clock,
    ILogger<SettlementGrain> logger) : Grain, ISettlementGrain
{
    private readonly MarketOptions _options = options.Value;
    private IGrainTimer? _flushTimer;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Items.Any(i => i.Status == SettlementItemStatus.Queued)) ScheduleFlush(_options.SettlementFlushDelay);
        return base.OnActivateAsync(cancellationToken);
    }

    public async Task EnqueueAsync(SignedVoucher voucher)
    {
        if (state.State.Items.Any(i => i.Voucher == voucher && i.Status != SettlementItemStatus.Rejected)) return;

        state.State.Items.Add(new SettlementItem(voucher, SettlementItemStatus.Queued, clock.GetUtcNow()));
        await state.WriteStateAsync();
        ScheduleFlush(_options.SettlementFlushDelay);
    }

    public ValueTask<SettlementSnapshot> GetAsync() =>
        ValueTask.FromResult(new SettlementSnapshot(this.GetPrimaryKeyString(), state.State.Items.ToList(), state.State.BatchesSubmitted));

    private void ScheduleFlush(TimeSpan delay)
    {
        if (_flushTimer is not null) return;
        _flushTimer = this.RegisterGrainTimer(FlushAsync, new GrainTimerCreationOptions
        {
            DueTime = delay,
            Period = Timeout.InfiniteTimeSpan,
            KeepAlive = true,
        });
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        // Disposing the timer would cancel this callback's token, so it is only let go of here and disposed at the end.
        using var firedTimer = _flushTimer;
        _flushTimer = null;

        var batch = state.State.Items.Where(i => i.Status == SettlementItemStatus.Queued).Take(_options.MaxBatchSize).ToList();
        if (batch.Count == 0) return;

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
            ScheduleFlush(_options.SettlementRetryDelay);
            return;
        }

        if (state.State.Items.Any(i => i.Status == SettlementItemStatus.Queued)) ScheduleFlush(TimeSpan.Zero);
    }

    /// <summary>Sends one batch and records its outcome; a single rejected voucher is reported to its lease.</summary>
    private async Task<SettlementReceipt> SubmitAsync(IReadOnlyList<SettlementItem> batch, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.SettlementTimeout);
        var receipt = await chain.SettleBatchAsync(batch.Select(i => i.Voucher).ToList(), timeout.Token);

        // The contract applies what it can of a batch and names each voucher it refused; a whole batch that reverts
        // names one error, which belongs to its voucher only when it is alone.
        var rejected = new List<(SettlementItem Item, string Error)>();
        if (receipt.Succeeded)
        {
            var reasons = (receipt.Rejections ?? []).ToLookup(r => r.LeaseId, r => r.Reason);
            rejected.AddRange(batch.Where(i => reasons.Contains(i.Voucher.LeaseId)).Select(i => (i, reasons[i.Voucher.LeaseId].First())));
            Replace(batch, item => reasons.Contains(item.Voucher.LeaseId)
                ? item with { Status = SettlementItemStatus.Rejected, TransactionHash = receipt.TransactionHash, Error = reasons[item.Voucher.LeaseId].First() }
                : item with { Status = SettlementItemStatus.Submitted, TransactionHash = receipt.TransactionHash });
            state.State.BatchesSubmitted++;
        }
        else if (batch.Count == 1)
        {
            rejected.Add((batch[0], receipt.Error ?? "rejected"));
            Replace(batch, item => item with { Status = SettlementItemStatus.Rejected, TransactionHash = receipt.TransactionHash, Error = receipt.Error });
        }
        await state.WriteStateAsync();

        foreach (var (item, error) in rejected)
        {
            logger.LogWarning("Voucher for lease {LeaseId} rejected on chain: {Error}", LeaseIds.Format(item.Voucher.LeaseId), error);
            await GrainFactory.GetGrain<ILeaseGrain>(item.Voucher.LeaseId).SettlementRejectedAsync(error);
        }
        return receipt;
    }

    private void Replace(IEnumerable<SettlementItem> batch, Func<SettlementItem, SettlementItem> update)
    {
        foreach (var item in batch)
        {
            var index = state.State.Items.IndexOf(item);
            state.State.Items[index] = update(item);
        }
    }
}
