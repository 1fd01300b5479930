using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// Polls the escrow's events from a start block and hands each one, in order, to the <see cref="IEscrowEventSink"/>.
/// The block cursor moves only after the sink has taken every event up to it; an RPC or sink failure is logged
/// and the same range is tried again on the next tick, without re-delivering events the sink already took.
/// With an <see cref="IEscrowEventCursor"/>, the cursor is saved after each range and a restart resumes after it;
/// a crash between delivering a range and saving it delivers that range again, which the sink takes idempotently.
/// </summary>
public sealed class EscrowEventWatcher(
    EscrowEventReader reader,
    IEscrowEventSink sink,
    EscrowEventWatcherOptions options,
    ILogger<EscrowEventWatcher>? logger = null,
    IEscrowEventCursor? cursor = null) : BackgroundService
{
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;
    private long _lastProcessedBlock = options.StartBlock - 1;
    private (long Block, long LogIndex, int Item)? _lastDelivered;
    private bool _resumed = cursor is null;

    /// <summary>The block this run started reading from: the start block, or the one after the saved cursor.</summary>
    public long ResumedFromBlock { get; private set; } = options.StartBlock;

    /// <summary>Every event in blocks up to and including this one has been delivered. StartBlock - 1 before the first poll.</summary>
    public long LastProcessedBlock => Interlocked.Read(ref _lastProcessedBlock);

    /// <summary>Waits until the watcher has delivered every event up to and including <paramref name="block"/>.</summary>
    public async Task WaitForBlockAsync(long block, CancellationToken cancellationToken)
    {
        while (LastProcessedBlock < block)
            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.PollInterval);
        do
        {
            try
            {
                await PollOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                _logger.LogWarning(exception, "Escrow event poll failed after block {Block}; retrying next tick", LastProcessedBlock);
            }
        }
        while (await WaitForNextTickAsync(timer, stoppingToken));
    }

    // Reads and delivers everything from the cursor to the head.
    private async Task<int> PollOnceAsync(CancellationToken cancellationToken)
    {
        if (!_resumed)
        {
            // Loaded in the poll loop, not the constructor: the cursor's store may not be up yet, and a failure is retried.
            if (await cursor!.LoadAsync(cancellationToken) is { } saved && saved >= LastProcessedBlock)
            {
                Interlocked.Exchange(ref _lastProcessedBlock, saved);
                ResumedFromBlock = saved + 1;
            }
            _resumed = true;
        }
        var head = await reader.GetLatestBlockAsync(cancellationToken) - options.Confirmations;
        var delivered = 0;
        while (LastProcessedBlock < head)
        {
            var from = LastProcessedBlock + 1;
            var to = Math.Min(head, LastProcessedBlock + Math.Max(1, options.MaxBlocksPerPoll));
            foreach (var chainEvent in await reader.ReadAsync(from, to, cancellationToken))
            {
                var position = chainEvent.Position;
                if (_lastDelivered is { } last && position.CompareTo(last) <= 0) continue;
                await DeliverAsync(chainEvent, cancellationToken);
                _lastDelivered = position;
                delivered++;
            }
            if (cursor is not null) await cursor.SaveAsync(to, cancellationToken);
            Interlocked.Exchange(ref _lastProcessedBlock, to);
        }
        return delivered;
    }

    private Task DeliverAsync(EscrowEvent chainEvent, CancellationToken cancellationToken) => chainEvent switch
    {
        EscrowLeaseOpened opened => sink.OnLeaseOpenedAsync(opened, cancellationToken),
        EscrowLeaseSettled settled => sink.OnLeaseSettledAsync(settled, cancellationToken),
        EscrowLeaseClosed closed => sink.OnLeaseClosedAsync(closed, cancellationToken),
        EscrowWithdrawn withdrawn => sink.OnWithdrawnAsync(withdrawn, cancellationToken),
        EscrowLeaseToppedUp toppedUp => sink.OnLeaseToppedUpAsync(toppedUp, cancellationToken),
        _ => Task.CompletedTask,
    };

    private static async ValueTask<bool> WaitForNextTickAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
