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
/// <remarks>
/// Reorganizations: the watcher remembers, for <see cref="EscrowEventWatcherOptions.MaxReorgDepth"/> blocks behind its
/// cursor, the hash of the last block of each range it read and of every block it delivered events from, with those
/// events, and saves them with the cursor. A range counts as read only when its logs all come from one chain: its last
/// block has the same hash after the logs were read as before, and so does every block the logs came from. Before each
/// range (not once a poll: the chain may reorganize while a range is delivered) the watcher checks that the chain still has
/// the newest remembered block. When it does not, the common ancestor is the newest remembered block below which every
/// remembered block is still the chain's: the events delivered after it go back to the sink newest first, the cursor moves
/// back to it, and the blocks that replaced the others are read as usual.
/// <para>
/// Several hosts: with an <see cref="IEscrowWatchLease"/>, only the host holding the lease polls; the others stand by and
/// ask again each tick. A host that takes the lease over forgets what it remembered and resumes from the saved cursor,
/// which the previous holder kept.
/// </para>
/// </remarks>
public sealed class EscrowEventWatcher(
    EscrowEventReader reader,
    IEscrowEventSink sink,
    EscrowEventWatcherOptions options,
    ILogger<EscrowEventWatcher>? logger = null,
    IEscrowEventCursor? cursor = null,
    IEscrowWatchLease? lease = null) : BackgroundService
{
    // A range read again this many times in one poll because the chain kept reorganizing is left to the next tick.
    private const int MaxUnsettledReads = 3;

    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;
    private readonly SortedList<long, RememberedBlock> _recent = [];
    private long _lastProcessedBlock = options.StartBlock - 1;
    private (long Block, long LogIndex, int Item)? _lastDelivered;
    private bool _resumed = cursor is null;
    private int _reorganizations;
    private volatile ChainReorganization? _lastReorganization;
    private volatile bool _holdsLease;

    /// <summary>The block this run started reading from: the start block, or the one after the saved cursor.</summary>
    public long ResumedFromBlock { get; private set; } = options.StartBlock;

    /// <summary>
    /// Every event in blocks up to and including this one has been delivered. StartBlock - 1 before the first poll; it
    /// moves back when a reorganization replaced blocks it had read.
    /// </summary>
    public long LastProcessedBlock => Interlocked.Read(ref _lastProcessedBlock);

    /// <summary>Whether this watcher reads the chain now: always without an <see cref="IEscrowWatchLease"/>, else while it holds it.</summary>
    public bool IsWatching => lease is null || _holdsLease;

    /// <summary>How many reorganizations this run has undone.</summary>
    public int Reorganizations => Volatile.Read(ref _reorganizations);

    /// <summary>The last reorganization this run undid, or null.</summary>
    public ChainReorganization? LastReorganization => _lastReorganization;

    /// <summary>
    /// Raised when a reorganization is found, before its events are rolled back: transactions sent from this host may
    /// have been in the replaced blocks too.
    /// </summary>
    public event Action<ChainReorganization>? Reorganized;

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

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (lease is null || !_holdsLease) return;
        _holdsLease = false;
        try
        {
            await lease.ReleaseAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The lease runs out by itself after its term.
            _logger.LogInformation("The escrow watch was not released ({Message}); it lapses after its term", exception.Message);
        }
    }

    // Undoes a reorganization if there was one, then reads and delivers everything from the cursor to the head.
    private async Task PollOnceAsync(CancellationToken cancellationToken)
    {
        if (lease is not null && !await HoldLeaseAsync(cancellationToken)) return;
        if (!_resumed)
        {
            // Loaded in the poll loop, not the constructor: the cursor's store may not be up yet, and a failure is retried.
            if (await cursor!.LoadAsync(cancellationToken) is { } saved && saved.LastBlock >= LastProcessedBlock)
            {
                Interlocked.Exchange(ref _lastProcessedBlock, saved.LastBlock);
                ResumedFromBlock = saved.LastBlock + 1;
                foreach (var block in saved.RecentBlocks) _recent[block.Number] = new RememberedBlock(block.Hash, [.. block.Events]);
            }
            _resumed = true;
        }
        var head = await reader.GetLatestBlockAsync(cancellationToken) - options.Confirmations;
        var unsettledReads = 0;
        while (true)
        {
            // Before every range, not once a poll: the chain may reorganize while a range is delivered, and the ranges after
            // it are read from the new chain, whose hashes match; the replaced blocks would never be checked again.
            await RollBackReorganizationAsync(cancellationToken);
            if (LastProcessedBlock >= head) return;
            var from = LastProcessedBlock + 1;
            var to = Math.Min(head, LastProcessedBlock + Math.Max(1, options.MaxBlocksPerPoll));
            if (await ReadRangeAsync(from, to, cancellationToken) is not { } range)
            {
                if (++unsettledReads >= MaxUnsettledReads)
                    throw new InvalidOperationException($"The chain reorganized each time blocks {from}..{to} were read; reading again next tick.");
                continue;
            }
            foreach (var chainEvent in range.Events)
            {
                var position = chainEvent.Position;
                if (_lastDelivered is { } last && position.CompareTo(last) <= 0) continue;
                // Remembered before it is delivered: a delivery that fails halfway is rolled back too (harmless when nothing was done).
                var delivering = Remember(chainEvent.BlockNumber, chainEvent.BlockHash);
                if (delivering.Count == 0 || delivering[^1].Position.CompareTo(position) < 0) delivering.Add(chainEvent);
                await DeliverAsync(chainEvent, cancellationToken);
                _lastDelivered = position;
            }
            Remember(to, range.LastBlockHash);
            ForgetBefore(to - options.MaxReorgDepth);
            if (cursor is not null) await cursor.SaveAsync(Checkpoint(to), cancellationToken);
            Interlocked.Exchange(ref _lastProcessedBlock, to);
        }
    }

    /// <summary>
    /// The events of blocks <paramref name="from"/>..<paramref name="to"/>, all from one chain, or null when the chain
    /// reorganized while they were read: the range's last block must still have the hash it had before the logs were read,
    /// and every block the logs came from the hash the chain has for it now.
    /// </summary>
    private async Task<ReadRange?> ReadRangeAsync(long from, long to, CancellationToken cancellationToken)
    {
        var toHash = await reader.GetBlockHashAsync(to, cancellationToken)
            ?? throw new InvalidOperationException($"Block {to} is gone from the chain; reading again after the check for a reorganization.");
        var events = await reader.ReadAsync(from, to, cancellationToken);
        foreach (var (number, hash) in events.Select(e => (e.BlockNumber, e.BlockHash)).Distinct())
        {
            var onChain = number == to ? toHash : await reader.GetBlockHashAsync(number, cancellationToken);
            if (!SameHash(onChain, hash)) return Unsettled();
        }
        return SameHash(await reader.GetBlockHashAsync(to, cancellationToken), toHash) ? new ReadRange(events, toHash) : Unsettled();

        ReadRange? Unsettled()
        {
            _logger.LogWarning("The chain reorganized while blocks {From}..{To} were read; checking it and reading them again", from, to);
            // The reader learned leases and payments from logs that may be of the replaced blocks.
            reader.ForgetAfter(from - 1);
            return null;
        }
    }

    /// <summary>
    /// Renews the lease, or takes it: then what this watcher remembers from an earlier turn is stale (another host read on
    /// since), so it starts over from the saved cursor as a restarted host would.
    /// </summary>
    private async Task<bool> HoldLeaseAsync(CancellationToken cancellationToken)
    {
        bool held;
        try
        {
            held = await lease!.TryHoldAsync(cancellationToken);
        }
        catch
        {
            // Unknown whether this host still holds it: it reads nothing until it knows, and then starts over.
            _holdsLease = false;
            throw;
        }
        if (held && !_holdsLease)
        {
            _recent.Clear();
            _lastDelivered = null;
            reader.ForgetAfter(long.MinValue);
            Interlocked.Exchange(ref _lastProcessedBlock, options.StartBlock - 1);
            _resumed = cursor is null;
            _logger.LogInformation("This host watches the escrow's events now");
        }
        else if (!held && _holdsLease)
        {
            _logger.LogInformation("Another host watches the escrow's events now; this one stands by");
        }
        _holdsLease = held;
        return held;
    }

    /// <summary>Checks the newest remembered block against the chain and, when the chain replaced it, rolls back to the common ancestor.</summary>
    private async Task RollBackReorganizationAsync(CancellationToken cancellationToken)
    {
        if (_recent.Count == 0) return;
        var newest = _recent.Keys[^1];
        if (SameHash(await reader.GetBlockHashAsync(newest, cancellationToken), _recent.Values[^1].Hash)) return;

        // The newest remembered block below which every remembered block is still the chain's. Not merely the newest one the
        // chain still has: blocks remembered across a reorganization come from two chains, and one from the new chain can
        // sit above a replaced one.
        var ancestor = _recent.Keys[0] - 1;
        for (var i = 0; i < _recent.Count - 1; i++)
        {
            if (!SameHash(await reader.GetBlockHashAsync(_recent.Keys[i], cancellationToken), _recent.Values[i].Hash)) break;
            ancestor = _recent.Keys[i];
        }
        if (ancestor < _recent.Keys[0])
        {
            _logger.LogError("The chain reorganized deeper than the {Depth} blocks remembered: rolling back all of them; what was delivered from " +
                "earlier blocks stays as it was (occ audit names any difference)", options.MaxReorgDepth);
        }

        var replaced = _recent.Where(block => block.Key > ancestor).Reverse().ToList();
        var rolledBack = replaced.SelectMany(block => Enumerable.Reverse(block.Value.Events)).ToList();
        var reorganization = new ChainReorganization(ancestor, Math.Max(newest, LastProcessedBlock), rolledBack.Count, DateTimeOffset.UtcNow);
        _logger.LogWarning("Chain reorganization: blocks {From}..{To} were replaced; rolling back {Count} event(s) to block {Ancestor}",
            ancestor + 1, reorganization.NewestBlockRead, rolledBack.Count, ancestor);
        Reorganized?.Invoke(reorganization);

        // A failure here leaves everything remembered: the next poll finds the same reorganization and rolls back again.
        foreach (var chainEvent in rolledBack) await sink.OnRolledBackAsync(chainEvent, cancellationToken);

        foreach (var (number, _) in replaced) _recent.Remove(number);
        reader.ForgetAfter(ancestor);
        if (_lastDelivered is { } last && last.Block > ancestor) _lastDelivered = (ancestor, long.MaxValue, int.MaxValue);
        var resumeAfter = Math.Min(LastProcessedBlock, ancestor);
        if (cursor is not null) await cursor.SaveAsync(Checkpoint(resumeAfter), cancellationToken);
        Interlocked.Exchange(ref _lastProcessedBlock, resumeAfter);
        _lastReorganization = reorganization;
        Interlocked.Increment(ref _reorganizations);
    }

    private List<EscrowEvent> Remember(long number, string hash)
    {
        // A block already remembered keeps its first hash: if the two differ, the chain reorganized meanwhile and the
        // next check finds it either way.
        if (!_recent.TryGetValue(number, out var block)) _recent[number] = block = new RememberedBlock(hash, []);
        return block.Events;
    }

    private void ForgetBefore(long number)
    {
        // The newest block always stays: it is what the next poll checks.
        while (_recent.Count > 1 && _recent.Keys[0] <= number) _recent.RemoveAt(0);
    }

    private EscrowWatcherCheckpoint Checkpoint(long lastBlock) =>
        new(lastBlock, _recent.Select(block => new WatchedBlock(block.Key, block.Value.Hash, block.Value.Events.ToList())).ToList());

    private static bool SameHash(string? chain, string remembered) => string.Equals(chain, remembered, StringComparison.OrdinalIgnoreCase);

    private Task DeliverAsync(EscrowEvent chainEvent, CancellationToken cancellationToken) => chainEvent switch
    {
        EscrowLeaseOpened opened => sink.OnLeaseOpenedAsync(opened, cancellationToken),
        EscrowLeaseSettled settled => sink.OnLeaseSettledAsync(settled, cancellationToken),
        EscrowLeaseClosed closed => sink.OnLeaseClosedAsync(closed, cancellationToken),
        EscrowWithdrawn withdrawn => sink.OnWithdrawnAsync(withdrawn, cancellationToken),
        EscrowLeaseToppedUp toppedUp => sink.OnLeaseToppedUpAsync(toppedUp, cancellationToken),
        EscrowLeaseClosing closing => sink.OnLeaseClosingAsync(closing, cancellationToken),
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

    /// <summary>The events of a range read from one chain, and the hash of the range's last block on that chain.</summary>
    private sealed record ReadRange(IReadOnlyList<EscrowEvent> Events, string LastBlockHash);

    /// <summary>A block read, by hash, with the events delivered from it in order.</summary>
    private sealed record RememberedBlock(string Hash, List<EscrowEvent> Events);
}
