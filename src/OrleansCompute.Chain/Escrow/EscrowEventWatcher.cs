using System.Diagnostics;
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
/// ask again each tick. The holder renews it before every range and every rollback, and while it delivers once half the
/// term is gone; it delivers (and saves) only while it surely holds it, in the term it read under, and stops the poll as
/// soon as it does not: a poll that outlasts the term (a catch-up, a slow node or grain) hands nothing to the sink after
/// another host may have taken over. A host that takes the lease in a new term forgets what it remembered and resumes from
/// the saved cursor, which the previous holder kept.
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
    // The watch's term this watcher's state was read under, and (Stopwatch timestamps) until when it surely holds it and
    // from when it renews it while delivering.
    private long? _term;
    private long _heldUntil;
    private long _renewFrom;

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

    // Undoes a reorganization if there was one, then reads and delivers everything from the cursor to the head, range by
    // range; stops as soon as this host no longer holds the watch in the term it read under.
    private async Task PollOnceAsync(CancellationToken cancellationToken)
    {
        long? head = null;
        var unsettledReads = 0;
        while (true)
        {
            // Renewed before every range: a catch-up or a slow node can outlast the term, and another host may have taken
            // over. Taken afresh after the first range, the watch came back after another host held it: the next poll
            // starts over from the saved cursor.
            var holding = await HoldLeaseAsync(cancellationToken);
            if (holding == Holding.None || (holding == Holding.Taken && head is not null)) return;
            if (!_resumed) await ResumeAsync(cancellationToken);
            head ??= await reader.GetLatestBlockAsync(cancellationToken) - options.Confirmations;
            // Before every range, not once a poll: the chain may reorganize while a range is delivered, and the ranges after
            // it are read from the new chain, whose hashes match; the replaced blocks would never be checked again.
            if (!await RollBackReorganizationAsync(cancellationToken)) return;
            if (LastProcessedBlock >= head) return;
            var from = LastProcessedBlock + 1;
            var to = Math.Min(head.Value, LastProcessedBlock + Math.Max(1, options.MaxBlocksPerPoll));
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
                if (!await KeepHoldingAsync(cancellationToken)) return;
                // Remembered before it is delivered: a delivery that fails halfway is rolled back too (harmless when nothing was done).
                var delivering = Remember(chainEvent.BlockNumber, chainEvent.BlockHash);
                if (delivering.Count == 0 || delivering[^1].Position.CompareTo(position) < 0) delivering.Add(chainEvent);
                await DeliverAsync(chainEvent, cancellationToken);
                _lastDelivered = position;
            }
            if (!await KeepHoldingAsync(cancellationToken)) return;
            Remember(to, range.LastBlockHash);
            ForgetBefore(to - options.MaxReorgDepth);
            if (cursor is not null) await cursor.SaveAsync(Checkpoint(to), cancellationToken);
            Interlocked.Exchange(ref _lastProcessedBlock, to);
        }
    }

    // Loaded in the poll loop, not the constructor: the cursor's store may not be up yet, and a failure is retried.
    private async Task ResumeAsync(CancellationToken cancellationToken)
    {
        if (await cursor!.LoadAsync(cancellationToken) is { } saved && saved.LastBlock >= LastProcessedBlock)
        {
            Interlocked.Exchange(ref _lastProcessedBlock, saved.LastBlock);
            ResumedFromBlock = saved.LastBlock + 1;
            foreach (var block in saved.RecentBlocks) _recent[block.Number] = new RememberedBlock(block.Hash, [.. block.Events]);
        }
        _resumed = true;
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
    /// Renews the watch, or takes it. Taken in another term than the one this watcher read under (or, when the lease numbers
    /// no terms, after this watcher did not hold it), what it remembers is stale: another host may have read on and rolled
    /// back since, so it starts over from the saved cursor as a restarted host would. A renewal that was answered only after
    /// the term it asked for ran out holds nothing for sure: it counts as not held until the next one.
    /// </summary>
    private async Task<Holding> HoldLeaseAsync(CancellationToken cancellationToken)
    {
        if (lease is null) return Holding.Kept;
        var asked = Stopwatch.GetTimestamp();
        EscrowWatchHold? hold;
        try
        {
            hold = await lease.HoldAsync(cancellationToken);
        }
        catch
        {
            // Unknown whether this host still holds it: it delivers nothing until it knows.
            _holdsLease = false;
            throw;
        }
        if (hold is null)
        {
            if (_holdsLease) _logger.LogInformation("Another host watches the escrow's events now; this one stands by");
            _holdsLease = false;
            return Holding.None;
        }
        var taken = hold.Term is { } term ? term != _term : !_holdsLease;
        if (taken)
        {
            _recent.Clear();
            _lastDelivered = null;
            reader.ForgetAfter(long.MinValue);
            Interlocked.Exchange(ref _lastProcessedBlock, options.StartBlock - 1);
            _resumed = cursor is null;
            _term = hold.Term;
            _logger.LogInformation("This host watches the escrow's events now (term {Term})", hold.Term);
        }
        (_heldUntil, _renewFrom) = hold.Length is { } length
            ? (asked + (long)(length.TotalSeconds * Stopwatch.Frequency), asked + (long)(length.TotalSeconds / 2 * Stopwatch.Frequency))
            : (long.MaxValue, long.MaxValue);
        _holdsLease = Stopwatch.GetTimestamp() < _heldUntil;
        return !_holdsLease ? Holding.None : taken ? Holding.Taken : Holding.Kept;
    }

    /// <summary>
    /// Before each delivery: whether this host still holds the watch in the term it read under, renewing it once half the
    /// term is gone. False as soon as it does not, and then it delivers nothing more this poll.
    /// </summary>
    private async Task<bool> KeepHoldingAsync(CancellationToken cancellationToken) =>
        lease is null || (_holdsLease && Stopwatch.GetTimestamp() < _renewFrom) || await HoldLeaseAsync(cancellationToken) == Holding.Kept;

    /// <summary>
    /// Checks the newest remembered block against the chain and, when the chain replaced it, rolls back to the common
    /// ancestor. False when this host lost the watch before it finished: a rollback is not idempotent across watchers (one
    /// arriving after the new holder folded the same voucher in again would take it back out), so none is delivered then.
    /// </summary>
    private async Task<bool> RollBackReorganizationAsync(CancellationToken cancellationToken)
    {
        if (_recent.Count == 0) return true;
        var newest = _recent.Keys[^1];
        if (SameHash(await reader.GetBlockHashAsync(newest, cancellationToken), _recent.Values[^1].Hash)) return true;

        // The newest remembered block below which every remembered block is still the chain's. Not merely the newest one the
        // chain still has: blocks remembered across a reorganization come from two chains, and one from the new chain can
        // sit above a replaced one.
        var ancestor = _recent.Keys[0] - 1;
        for (var i = 0; i < _recent.Count - 1; i++)
        {
            if (!SameHash(await reader.GetBlockHashAsync(_recent.Keys[i], cancellationToken), _recent.Values[i].Hash)) break;
            ancestor = _recent.Keys[i];
        }
        // Renewed after the search (many calls to the node) and just before anything is handed back.
        if (await HoldLeaseAsync(cancellationToken) != Holding.Kept) return false;
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
        foreach (var chainEvent in rolledBack)
        {
            if (!await KeepHoldingAsync(cancellationToken)) return false;
            await sink.OnRolledBackAsync(chainEvent, cancellationToken);
        }
        if (!await KeepHoldingAsync(cancellationToken)) return false;

        foreach (var (number, _) in replaced) _recent.Remove(number);
        reader.ForgetAfter(ancestor);
        if (_lastDelivered is { } last && last.Block > ancestor) _lastDelivered = (ancestor, long.MaxValue, int.MaxValue);
        var resumeAfter = Math.Min(LastProcessedBlock, ancestor);
        if (cursor is not null) await cursor.SaveAsync(Checkpoint(resumeAfter), cancellationToken);
        Interlocked.Exchange(ref _lastProcessedBlock, resumeAfter);
        _lastReorganization = reorganization;
        Interlocked.Increment(ref _reorganizations);
        return true;
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

    private enum Holding
    {
        /// <summary>Another host holds the watch, or this one is not sure it does.</summary>
        None,

        /// <summary>Held in the term this watcher read under.</summary>
        Kept,

        /// <summary>Held in a new term: this watcher started over.</summary>
        Taken,
    }

    /// <summary>The events of a range read from one chain, and the hash of the range's last block on that chain.</summary>
    private sealed record ReadRange(IReadOnlyList<EscrowEvent> Events, string LastBlockHash);

    /// <summary>A block read, by hash, with the events delivered from it in order.</summary>
    private sealed record RememberedBlock(string Hash, List<EscrowEvent> Events);
}
