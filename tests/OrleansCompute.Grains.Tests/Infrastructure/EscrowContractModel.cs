// A model of the escrow contract's settleBatch for the leases of one test (routed to it by RecordingEscrowSettlement.Route),
// and of the chain watcher that hands its events to their lease grains, with the faults a real chain and watcher have:
// a transaction lost after its receipt, an RPC endpoint that cannot be reached, events handed again after a restart, and
// reorganizations that remove the newest blocks (handed back newest first, and possibly mined again). A tenant may take
// the channel of a closed escrow for its next lease at once, after which the contract refuses that escrow's vouchers as
// LeaseReplaced, whatever they paid, as settleBatch does (reason 7); a closed escrow refuses a voucher for more than it
// paid as LeaseAlreadyClosed (reason 3) and skips one for no more.
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Grains.Tests.Infrastructure;

/// <summary>What becomes of the next batch the contract is sent.</summary>
public enum BatchFault
{
    /// <summary>Mined: applied, its events for the watcher to hand over.</summary>
    None,

    /// <summary>A receipt comes back, yet the transaction never makes it into the chain: nothing applied, no events.</summary>
    Lost,

    /// <summary>The RPC endpoint is down: the call throws <see cref="HttpRequestException"/>, as <see cref="RecordingEscrowSettlement.BeUnreachableFor"/> does.</summary>
    Unreachable,
}

public sealed class EscrowContractModel : IEscrowSettlement
{
    /// <summary>One escrow as the contract keeps it: what it holds, what it has paid, whether it is closed.</summary>
    public sealed class Escrow(Guid leaseId, string name, string provider, Credits deposit, SignedVoucher signed, bool reusesChannel)
    {
        public Guid LeaseId { get; } = leaseId;
        public string Name { get; } = name;
        public string Provider { get; } = AccountKeys.Normalize(provider);
        public Credits Deposit { get; } = deposit;

        /// <summary>The one voucher the tenant signed for it: the contract is never sent another.</summary>
        public SignedVoucher Signed { get; } = signed;

        public Credits Paid { get; internal set; }
        public bool Closed { get; internal set; }

        /// <summary>Its tenant opens its next lease on this escrow's channel as soon as it closes (a block later).</summary>
        public bool ReusesChannel { get; } = reusesChannel;

        /// <summary>A later lease took its channel: the contract refuses every voucher for it as LeaseReplaced.</summary>
        public bool Replaced { get; internal set; }

        /// <summary>Closes handed to its lease grain, each counted once per transaction as mined (a duplicate does not count).</summary>
        public int ClosesDelivered { get; internal set; }
    }

    /// <summary>A voucher the contract applied: the lease's paid before and after, and whether it closed the escrow.</summary>
    public sealed record Applied(Escrow Escrow, Credits PaidBefore, Credits Paid, bool Final)
    {
        public Credits Delta => Paid - PaidBefore;

        public Credits Refund => Escrow.Deposit - Paid;

        public EscrowSettled Settled(Transaction tx) => new(Escrow.Provider, Delta, Paid, tx.Hash, tx.Block);

        public EscrowClosed Closed(Transaction tx) => new(Refund, tx.Hash, tx.Block);

        public override string ToString() => $"{Escrow.Name} {PaidBefore}→{Paid}{(Final ? " closed" : "")}";
    }

    /// <summary>
    /// A settleBatch transaction in a block of the chain (what it applied, and what it refused), or the tenants' openings
    /// of later leases on the channels of <see cref="Replaced"/>.
    /// </summary>
    public sealed class Transaction(string hash, long block, IReadOnlyList<SignedVoucher> vouchers, IReadOnlyList<Applied> applied,
        IReadOnlyList<SettlementRejection> rejections, IReadOnlyList<Escrow> replaced)
    {
        public string Hash { get; } = hash;
        public long Block { get; } = block;
        public IReadOnlyList<SignedVoucher> Vouchers { get; } = vouchers;
        public IReadOnlyList<Applied> Applied { get; } = applied;
        public IReadOnlyList<SettlementRejection> Rejections { get; } = rejections;
        public IReadOnlyList<Escrow> Replaced { get; } = replaced;
        public bool Delivered { get; internal set; }

        public override string ToString() => Replaced.Count > 0
            ? $"block {Block} tx {Hash[..10]}: later leases take the channels of {string.Join(", ", Replaced.Select(e => e.Name))}"
            : $"block {Block} tx {Hash[..10]}: {(Applied.Count == 0 ? "nothing applied" : string.Join(", ", Applied))}" +
              (Rejections.Count == 0 ? "" : $"; refused {string.Join(", ", Rejections.Select(r => $"{NameOf(r.LeaseId)} ({r.Reason})"))}");

        /// <summary>How the log names a lease.</summary>
        internal Func<Guid, string> NameOf { get; init; } = id => id.ToString();
    }

    private readonly object _gate = new();
    private readonly Dictionary<Guid, Escrow> _escrows = [];
    private readonly Dictionary<string, Credits> _balances = [];

    /// <summary>The chain as it stands, oldest first: mined transactions a reorganization has not removed.</summary>
    private readonly List<Transaction> _chain = [];

    private readonly Queue<BatchFault> _faults = new();
    private readonly List<string> _log = [];
    private readonly List<(int Size, BatchFault Fault)> _batches = [];
    private readonly List<SignedVoucher> _strangers = [];
    private long _block = 1_000;

    public IReadOnlyList<string> Log
    {
        get { lock (_gate) return _log.ToList(); }
    }

    /// <summary>Adds a line of the test's own to the log, so that one log tells what happened in order.</summary>
    public void Note(string line)
    {
        lock (_gate) _log.Add(line);
    }

    /// <summary>Reorganizations that removed something; the applied vouchers they removed; those of them the watcher had handed over (so handed back); transactions mined again.</summary>
    public (int Reorgs, int Removed, int HandedBack, int Remined, int Replays) Stats
    {
        get { lock (_gate) return _stats; }
    }

    private (int Reorgs, int Removed, int HandedBack, int Remined, int Replays) _stats;

    /// <summary>Vouchers refused as LeaseReplaced in the receipts the model gave (each of them had paid its escrow).</summary>
    public int Refused
    {
        get { lock (_gate) return _refused; }
    }

    private int _refused;

    /// <summary>Every batch sent: how many vouchers it held, and what became of it.</summary>
    public IReadOnlyList<(int Size, BatchFault Fault)> Batches
    {
        get { lock (_gate) return _batches.ToList(); }
    }

    /// <summary>Vouchers the contract was sent that are not the one its lease's tenant signed.</summary>
    public IReadOnlyList<SignedVoucher> Strangers
    {
        get { lock (_gate) return _strangers.ToList(); }
    }

    public IReadOnlyList<Escrow> Escrows
    {
        get { lock (_gate) return _escrows.Values.ToList(); }
    }

    /// <summary>Mined transactions the watcher has not handed over yet.</summary>
    public int Pending
    {
        get { lock (_gate) return _chain.Count(t => !t.Delivered); }
    }

    /// <summary>How often the chain as it stands closed the lease's escrow.</summary>
    public int Closes(Guid leaseId)
    {
        lock (_gate) return _chain.Sum(t => t.Applied.Count(a => a.Final && a.Escrow.LeaseId == leaseId));
    }

    /// <summary>How often the chain as it stands applied a voucher of the lease.</summary>
    public int Applications(Guid leaseId)
    {
        lock (_gate) return _chain.Sum(t => t.Applied.Count(a => a.Escrow.LeaseId == leaseId));
    }

    /// <summary>
    /// What the lease grain has been told, as the chain stands: paid by the newest transaction the watcher handed over
    /// that applied one of its vouchers (0 when none), and whether one of those closed its escrow.
    /// </summary>
    public (Credits Paid, bool Closed) Watched(Guid leaseId)
    {
        lock (_gate)
        {
            var seen = _chain.Where(t => t.Delivered).SelectMany(t => t.Applied).Where(a => a.Escrow.LeaseId == leaseId).ToList();
            return (seen.Count == 0 ? Credits.Zero : seen[^1].Paid, seen.Any(a => a.Final));
        }
    }

    /// <summary>What the contract credited the provider: the payments of the chain as it stands.</summary>
    public Credits Balance(string provider)
    {
        lock (_gate) return _balances.GetValueOrDefault(AccountKeys.Normalize(provider));
    }

    /// <summary>The same balance summed over the chain's transactions, which must agree with the one kept.</summary>
    public Credits BalanceOnChain(string provider)
    {
        lock (_gate)
            return _chain.SelectMany(t => t.Applied).Where(a => a.Escrow.Provider == AccountKeys.Normalize(provider))
                .Aggregate(Credits.Zero, (sum, a) => sum + a.Delta);
    }

    /// <summary>The escrow the tenant funded for this lease, and the voucher the tenant signed for it.</summary>
    public Escrow Open(Guid leaseId, string name, string provider, Credits deposit, SignedVoucher signed, bool reusesChannel = false)
    {
        lock (_gate)
        {
            var escrow = new Escrow(leaseId, name, provider, deposit, signed, reusesChannel);
            _escrows.Add(leaseId, escrow);
            return escrow;
        }
    }

    public Escrow this[Guid leaseId]
    {
        get { lock (_gate) return _escrows[leaseId]; }
    }

    /// <summary>What becomes of the next batches sent, one fault each, in order; batches after these are mined.</summary>
    public void PlanFaults(IEnumerable<BatchFault> faults)
    {
        lock (_gate)
        {
            foreach (var fault in faults) _faults.Enqueue(fault);
        }
    }

    /// <summary>Every batch from now on is mined.</summary>
    public void StopFaults()
    {
        lock (_gate)
        {
            if (_faults.Count > 0) _log.Add($"faults stop ({_faults.Count} planned ones unused)");
            else _log.Add("faults stop");
            _faults.Clear();
        }
    }

    public Task<SettlementReceipt> SettleBatchAsync(IReadOnlyList<SignedVoucher> vouchers, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var fault = _faults.Count > 0 ? _faults.Dequeue() : BatchFault.None;
            _batches.Add((vouchers.Count, fault));
            var names = string.Join(", ", vouchers.Select(v => _escrows.TryGetValue(v.LeaseId, out var e) ? e.Name : v.LeaseId.ToString()));
            _strangers.AddRange(vouchers.Where(v => !_escrows.TryGetValue(v.LeaseId, out var e) || e.Signed != v));
            switch (fault)
            {
                case BatchFault.Unreachable:
                    _log.Add($"batch [{names}]: chain unreachable");
                    throw new HttpRequestException("Connection refused (chain RPC)");
                case BatchFault.Lost:
                    var lost = TestMarket.NewTransactionHash();
                    _log.Add($"batch [{names}]: tx {lost[..10]} lost after its receipt");
                    return Task.FromResult(new SettlementReceipt(lost, ++_block, Succeeded: true, null, []));
                default:
                    var tx = Mine(TestMarket.NewTransactionHash(), vouchers.ToList());
                    _log.Add($"batch [{names}]: {tx}");
                    _refused += tx.Rejections.Count(r => r.Reason == "LeaseReplaced");
                    if (MineReplacements(TestMarket.NewTransactionHash(), tx.Applied.Where(a => a.Final && a.Escrow.ReusesChannel).Select(a => a.Escrow)) is { } next)
                        _log.Add($"  then {next}");
                    return Task.FromResult(new SettlementReceipt(tx.Hash, tx.Block, Succeeded: true, null, tx.Rejections));
            }
        }
    }

    /// <summary>Applies the batch in a new block as settleBatch does: a voucher counts only above what its lease is paid
    /// (a final one also at what is paid, to close it); a closed escrow takes nothing more, refusing a voucher for more as
    /// LeaseAlreadyClosed; an escrow whose channel a later lease took refuses every voucher as LeaseReplaced.</summary>
    private Transaction Mine(string hash, IReadOnlyList<SignedVoucher> vouchers)
    {
        var applied = new List<Applied>();
        var rejections = new List<SettlementRejection>();
        foreach (var voucher in vouchers)
        {
            if (!_escrows.TryGetValue(voucher.LeaseId, out var escrow)) continue;
            if (escrow.Replaced)
            {
                rejections.Add(new SettlementRejection(voucher.LeaseId, "LeaseReplaced"));
                continue;
            }
            if (escrow.Closed)
            {
                if (voucher.Amount > escrow.Paid) rejections.Add(new SettlementRejection(voucher.LeaseId, "LeaseAlreadyClosed"));
                continue;
            }
            if (voucher.Amount < escrow.Paid || (voucher.Amount == escrow.Paid && !voucher.IsFinal)) continue; // stale
            if (voucher.Amount > escrow.Deposit) continue;
            var done = new Applied(escrow, escrow.Paid, voucher.Amount, voucher.IsFinal);
            escrow.Paid = voucher.Amount;
            escrow.Closed = voucher.IsFinal;
            _balances[escrow.Provider] = _balances.GetValueOrDefault(escrow.Provider) + done.Delta;
            applied.Add(done);
        }
        var tx = new Transaction(hash, ++_block, vouchers, applied, rejections, []) { NameOf = Name };
        _chain.Add(tx);
        return tx;
    }

    /// <summary>The tenants open their next leases on the channels of these escrows, in a new block: each one closed and not taken already; null when none is.</summary>
    private Transaction? MineReplacements(string hash, IEnumerable<Escrow> escrows)
    {
        var replaced = escrows.Where(e => e.Closed && !e.Replaced).Distinct().ToList();
        if (replaced.Count == 0) return null;
        foreach (var escrow in replaced) escrow.Replaced = true;
        var tx = new Transaction(hash, ++_block, [], [], [], replaced);
        _chain.Add(tx);
        return tx;
    }

    private string Name(Guid leaseId) => _escrows.TryGetValue(leaseId, out var escrow) ? escrow.Name : leaseId.ToString();

    /// <summary>
    /// The watcher's poll: hands each mined transaction not handed over yet to its leases, in chain order, each lease's
    /// LeaseSettled then its LeaseClosed. After a restart (<paramref name="replay"/> &gt; 0) it first hands over again
    /// that many of the transactions it had handed over, as a crash before saving its cursor does.
    /// </summary>
    public async Task DeliverAsync(IGrainFactory grains, int replay = 0)
    {
        List<(Transaction Tx, bool Again)> delivering;
        lock (_gate)
        {
            var delivered = _chain.Where(t => t.Delivered).ToList();
            delivering = [.. delivered.Skip(Math.Max(0, delivered.Count - replay)).Select(t => (t, true)), .. _chain.Where(t => !t.Delivered).Select(t => (t, false))];
            if (replay > 0 && delivered.Count > 0)
            {
                _log.Add($"watcher restarts {Math.Min(replay, delivered.Count)} tx(s) back");
                _stats.Replays++;
            }
            foreach (var (tx, again) in delivering)
            {
                if (again) continue;
                tx.Delivered = true;
                foreach (var closing in tx.Applied.Where(a => a.Final)) closing.Escrow.ClosesDelivered++;
                if (tx.Applied.Count > 0) _log.Add($"watcher hands over {tx}");
            }
        }
        foreach (var (tx, _) in delivering)
        {
            foreach (var applied in tx.Applied) await grains.GetGrain<ILeaseGrain>(applied.Escrow.LeaseId).ConfirmSettledAsync(applied.Settled(tx));
            foreach (var applied in tx.Applied.Where(a => a.Final)) await grains.GetGrain<ILeaseGrain>(applied.Escrow.LeaseId).ConfirmClosedAsync(applied.Closed(tx));
        }
    }

    /// <summary>
    /// A reorganization removes the newest blocks, back to and including the <paramref name="depth"/>-th newest that
    /// applied anything: the contract forgets what they did, and the watcher hands back the events it had handed over,
    /// newest first (each lease's LeaseClosed before its LeaseSettled); <paramref name="handBackTwice"/>, it does so
    /// again, as after a crash. With <paramref name="remine"/> the new chain mines the removed transactions again, in new
    /// blocks under their hashes, applying what still applies.
    /// </summary>
    /// <returns>Whether anything was removed.</returns>
    public async Task<bool> ReorganizeAsync(IGrainFactory grains, int depth, bool remine, bool handBackTwice)
    {
        List<Transaction> removed;
        lock (_gate)
        {
            var applying = _chain.Select((t, i) => (t, i)).Where(x => x.t.Applied.Count > 0).Select(x => x.i).ToList();
            if (applying.Count == 0) return false;
            var from = applying[Math.Max(0, applying.Count - depth)];
            removed = _chain.GetRange(from, _chain.Count - from);
            _chain.RemoveRange(from, _chain.Count - from);
            foreach (var tx in Enumerable.Reverse(removed))
            {
                foreach (var escrow in tx.Replaced) escrow.Replaced = false;
                foreach (var applied in tx.Applied.Reverse())
                {
                    applied.Escrow.Paid = applied.PaidBefore;
                    if (applied.Final) applied.Escrow.Closed = false;
                    _balances[applied.Escrow.Provider] -= applied.Delta;
                }
            }
            _log.Add($"reorg removes {removed.Count} tx(s): {string.Join("; ", removed)}");
            _stats.Reorgs++;
            _stats.Removed += removed.Sum(t => t.Applied.Count);
            _stats.HandedBack += removed.Where(t => t.Delivered).Sum(t => t.Applied.Count);
            if (remine)
            {
                foreach (var tx in removed)
                {
                    if (tx.Replaced.Count == 0) _log.Add($"  mined again: {Mine(tx.Hash, tx.Vouchers)}");
                    else if (MineReplacements(tx.Hash, tx.Replaced) is { } again) _log.Add($"  mined again: {again}");
                }
                _stats.Remined += removed.Count;
            }
        }
        for (var round = 0; round < (handBackTwice ? 2 : 1); round++)
        {
            foreach (var tx in Enumerable.Reverse(removed).Where(t => t.Delivered))
            {
                foreach (var applied in tx.Applied.Where(a => a.Final).Reverse())
                    await grains.GetGrain<ILeaseGrain>(applied.Escrow.LeaseId).RollBackClosedAsync(applied.Closed(tx));
                foreach (var applied in tx.Applied.Reverse())
                    await grains.GetGrain<ILeaseGrain>(applied.Escrow.LeaseId).RollBackSettledAsync(applied.Settled(tx));
            }
        }
        return true;
    }
}
