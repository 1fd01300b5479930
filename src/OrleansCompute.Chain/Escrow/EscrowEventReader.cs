using System.Collections.Concurrent;
using System.Numerics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nethereum.ABI.Model;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Hex.HexTypes;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Util;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Rpc;

namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// Reads the escrow's events for a block range (one eth_getLogs on the escrow address) and decodes them into the lease
/// books: openings, each applied voucher of a Settled log, closings and withdrawals. Settled records name leases by their
/// signer's channel and providers by id; a channel's key names its leases one after another, so the lease an event names is
/// the last one opened on that key before the event. The reader learns leases and providers from the LeaseOpened and
/// ProviderRegistered events it has read, and asks the chain for any it has not seen (a range that starts after them).
/// Reading a range again gives the same events. Leases whose id did not come from this market (wider than a Guid) are skipped.
/// </summary>
public sealed class EscrowEventReader(ChainRpc rpc, string escrowAddress, ILogger<EscrowEventReader>? logger = null)
{
    private static readonly EventABI LeaseOpened = ABITypedRegistry.GetEvent<LeaseOpenedEventDTO>();
    private static readonly EventABI Settled = ABITypedRegistry.GetEvent<SettledEventDTO>();
    private static readonly EventABI LeaseClosed = ABITypedRegistry.GetEvent<LeaseClosedEventDTO>();
    private static readonly EventABI Withdrawn = ABITypedRegistry.GetEvent<WithdrawnEventDTO>();
    private static readonly EventABI LeaseToppedUp = ABITypedRegistry.GetEvent<LeaseToppedUpEventDTO>();
    private static readonly EventABI LeaseClosing = ABITypedRegistry.GetEvent<LeaseClosingEventDTO>();
    private static readonly EventABI ProviderRegistered = ABITypedRegistry.GetEvent<ProviderRegisteredEventDTO>();
    private static readonly EventABI Deposited = ABITypedRegistry.GetEvent<DepositedEventDTO>();

    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;
    // channel key -> the leases opened on it, in the order they were opened
    private readonly ConcurrentDictionary<string, KeyHistory> _leases = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<uint, string> _providers = new();

    public string EscrowAddress { get; } = escrowAddress;

    public async Task<long> GetLatestBlockAsync(CancellationToken cancellationToken = default) =>
        (long)(await rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync(), cancellationToken)).Value;

    /// <summary>Events in blocks <paramref name="fromBlock"/>..<paramref name="toBlock"/> (inclusive), in (block, log index, item) order.</summary>
    public async Task<IReadOnlyList<EscrowEvent>> ReadAsync(long fromBlock, long toBlock, CancellationToken cancellationToken = default)
    {
        if (toBlock < fromBlock) return [];
        var logs = await GetLogsAsync(fromBlock, toBlock, topics: null, cancellationToken);
        var events = new List<EscrowEvent>(logs.Length);
        foreach (var log in logs.OrderBy(l => (l.BlockNumber.Value, l.LogIndex.Value)))
        {
            if (log.Removed) continue;
            var decodedFrom = events.Count;
            await DecodeAsync(log, events, cancellationToken);
            for (var i = decodedFrom; i < events.Count; i++) events[i] = events[i] with { BlockHash = log.BlockHash };
        }
        return events;
    }

    /// <summary>Who paid into a tenant balance (<c>Deposited</c>) in blocks <paramref name="fromBlock"/>..<paramref name="toBlock"/>.</summary>
    public async Task<IReadOnlyCollection<string>> ReadDepositorsAsync(long fromBlock, long toBlock, CancellationToken cancellationToken = default)
    {
        if (toBlock < fromBlock) return [];
        var logs = await GetLogsAsync(fromBlock, toBlock, [Deposited.Sha3Signature.EnsureHexPrefix()], cancellationToken);
        return logs.Where(l => !l.Removed).Select(l => Checksum(l.DecodeEvent<DepositedEventDTO>().Event.Tenant)).ToHashSet();
    }

    /// <summary>The hash of block <paramref name="number"/> as the chain has it now, or null when it has no such block.</summary>
    public async Task<string?> GetBlockHashAsync(long number, CancellationToken cancellationToken = default)
    {
        var block = await rpc.CallAsync(
            web3 => web3.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(new BlockParameter(new HexBigInteger(number))), cancellationToken);
        return block?.BlockHash;
    }

    /// <summary>
    /// Forgets what was learned from blocks after <paramref name="block"/>, which a reorganization replaced: what leases
    /// were paid there, leases opened there (or found outside the ranges read, which may have been), and provider ids.
    /// </summary>
    public void ForgetAfter(long block)
    {
        foreach (var (key, history) in _leases)
        {
            if (history.ForgetAfter(block)) _leases.TryRemove(key, out _);
        }
        // Ids are handed out in registration order, and a registration may have been in a replaced block.
        _providers.Clear();
    }

    private async Task DecodeAsync(FilterLog log, List<EscrowEvent> events, CancellationToken cancellationToken)
    {
        var block = (long)log.BlockNumber.Value;
        var index = (long)log.LogIndex.Value;
        var hash = log.TransactionHash;
        if (ProviderRegistered.IsLogForEvent(log))
        {
            var e = log.DecodeEvent<ProviderRegisteredEventDTO>().Event;
            _providers[e.ProviderId] = Checksum(e.Provider);
        }
        else if (LeaseOpened.IsLogForEvent(log))
        {
            var e = log.DecodeEvent<LeaseOpenedEventDTO>().Event;
            var lease = Remember(e, (block, index), readFromOpening: true);
            if (lease.Id is { } id)
                events.Add(new EscrowLeaseOpened(id, lease.Tenant, Checksum(e.Provider), CreditsOnChain.FromUnits(e.Deposit), UnixTime.FromSeconds(e.Expiry), block, index, hash)
                {
                    Signer = lease.Signer,
                    Channel = lease.Channel,
                });
        }
        else if (Settled.IsLogForEvent(log))
        {
            var records = EscrowBatch.DecodeRecords(log.DecodeEvent<SettledEventDTO>().Event.Records);
            var item = 0;
            foreach (var run in records)
            {
                var provider = await ProviderAsync(run.ProviderId, cancellationToken);
                foreach (var settled in run.Items)
                {
                    var position = (block, index, item++);
                    if (await LeaseAsync(settled.LeaseKey, (block, index), cancellationToken) is not { } lease) continue;
                    var before = await PaidBeforeAsync(lease, position, cancellationToken);
                    lease.RecordPaid(position, settled.Paid);
                    if (lease.Id is { } id)
                        events.Add(new EscrowLeaseSettled(id, provider, CreditsOnChain.FromUnits(settled.Paid - before), CreditsOnChain.FromUnits(settled.Paid), block, index, hash)
                        {
                            Item = position.Item3,
                            Tenant = lease.Tenant,
                        });
                }
            }
        }
        else if (LeaseClosed.IsLogForEvent(log))
        {
            var e = log.DecodeEvent<LeaseClosedEventDTO>().Event;
            if (await LeaseAsync(e.Key.ToHex(prefix: true), (block, index), cancellationToken) is { Id: { } id })
                events.Add(new EscrowLeaseClosed(id, Checksum(e.Tenant), CreditsOnChain.FromUnits(e.Refund), block, index, hash));
        }
        else if (LeaseToppedUp.IsLogForEvent(log))
        {
            var e = log.DecodeEvent<LeaseToppedUpEventDTO>().Event;
            if (await LeaseAsync(e.Key.ToHex(prefix: true), (block, index), cancellationToken) is { Id: { } id } lease)
                events.Add(new EscrowLeaseToppedUp(id, lease.Tenant, CreditsOnChain.FromUnits(e.Amount), CreditsOnChain.FromUnits(e.Deposit), block, index, hash));
        }
        else if (LeaseClosing.IsLogForEvent(log))
        {
            var e = log.DecodeEvent<LeaseClosingEventDTO>().Event;
            if (await LeaseAsync(e.Key.ToHex(prefix: true), (block, index), cancellationToken) is { Id: { } id } lease)
                events.Add(new EscrowLeaseClosing(id, lease.Tenant, DateTimeOffset.FromUnixTimeSeconds((long)e.Expiry), block, index, hash));
        }
        else if (Withdrawn.IsLogForEvent(log))
        {
            var e = log.DecodeEvent<WithdrawnEventDTO>().Event;
            events.Add(new EscrowWithdrawn(Checksum(e.Provider), CreditsOnChain.FromUnits(e.Amount), block, index, hash));
        }
        // SettleRejected changes nothing (the settlement reads it from its receipt); fees, pauses and ownership are
        // not part of the lease books.
    }

    private KnownLease Remember(LeaseOpenedEventDTO opened, (long Block, long LogIndex) openedAt, bool readFromOpening)
    {
        var key = opened.Key.ToHex(prefix: true);
        var id = LeaseIds.FromChainId(opened.LeaseId);
        if (id is null) _logger.LogDebug("Lease {LeaseId} on channel {Key} has a foreign id; its events are skipped", opened.LeaseId, key);
        var lease = new KnownLease(id, Checksum(opened.Tenant), Checksum(opened.Signer), (uint)opened.Channel, opened.LeaseId, openedAt, readFromOpening);
        return _leases.GetOrAdd(key, _ => new KeyHistory()).Add(lease);
    }

    /// <summary>
    /// The lease a channel key names at <paramref name="position"/>: the last opened on it before then, from a LeaseOpened read
    /// before, or else found on chain by its key topic.
    /// </summary>
    private async Task<KnownLease?> LeaseAsync(string key, (long Block, long LogIndex) position, CancellationToken cancellationToken)
    {
        if (_leases.TryGetValue(key, out var history) && history.At(position) is { } known) return known;
        var topics = new object[] { LeaseOpened.Sha3Signature.EnsureHexPrefix(), key };
        var logs = await GetLogsAsync(0, null, topics, cancellationToken);
        KnownLease? found = null;
        foreach (var opening in logs.Where(l => !l.Removed && LeaseOpened.IsLogForEvent(l)))
        {
            // Found outside the ranges read: what it was paid before is read from the chain when needed, not assumed 0.
            var at = ((long)opening.BlockNumber.Value, (long)opening.LogIndex.Value);
            var lease = Remember(opening.DecodeEvent<LeaseOpenedEventDTO>().Event, at, readFromOpening: false);
            if (at.CompareTo(position) < 0) found = lease;
        }
        if (found is null) _logger.LogWarning("No LeaseOpened on channel key {Key} before block {Block}; skipping its event", key, position.Block);
        return found;
    }

    /// <summary>What the lease had been paid before the voucher at <paramref name="position"/>.</summary>
    private async Task<BigInteger> PaidBeforeAsync(KnownLease lease, (long Block, long LogIndex, int Item) position, CancellationToken cancellationToken)
    {
        if (lease.PaidBefore(position) is { } known) return known;
        // Settlements of this lease before the first one this reader saw: its paid at the end of the previous block.
        var stored = await rpc.QueryOutputAsync<LeaseFunction, LeaseOutputDTO>(
            EscrowAddress, new LeaseFunction { Signer = lease.Signer, Channel = lease.Channel, LeaseId = lease.ChainLeaseId }, cancellationToken,
            new BlockParameter(new HexBigInteger(position.Block - 1)));
        lease.RecordPaid((position.Block - 1, long.MaxValue, int.MaxValue), stored.Paid);
        return stored.Paid;
    }

    private async Task<string> ProviderAsync(uint providerId, CancellationToken cancellationToken)
    {
        if (_providers.TryGetValue(providerId, out var provider)) return provider;
        provider = Checksum(await rpc.QueryAsync<ProviderAddressFunction, string>(EscrowAddress, new ProviderAddressFunction { Id = providerId }, cancellationToken));
        return _providers.GetOrAdd(providerId, provider);
    }

    private Task<FilterLog[]> GetLogsAsync(long fromBlock, long? toBlock, object[]? topics, CancellationToken cancellationToken)
    {
        var filter = new NewFilterInput
        {
            Address = [EscrowAddress],
            FromBlock = new BlockParameter(new HexBigInteger(fromBlock)),
            ToBlock = toBlock is { } to ? new BlockParameter(new HexBigInteger(to)) : BlockParameter.CreateLatest(),
            Topics = topics,
        };
        return rpc.CallAsync(web3 => web3.Eth.Filters.GetLogs.SendRequestAsync(filter), cancellationToken);
    }

    private static string Checksum(string address) => AddressUtil.Current.ConvertToChecksumAddress(address);

    /// <summary>The leases opened on one channel key, oldest first.</summary>
    private sealed class KeyHistory
    {
        private readonly List<KnownLease> _leases = [];

        /// <returns>The lease remembered for this opening: <paramref name="lease"/>, or the one already known.</returns>
        public KnownLease Add(KnownLease lease)
        {
            lock (_leases)
            {
                if (_leases.Find(l => l.OpenedAt == lease.OpenedAt) is { } known) return known;
                _leases.Add(lease);
                _leases.Sort((a, b) => a.OpenedAt.CompareTo(b.OpenedAt));
                return lease;
            }
        }

        public KnownLease? At((long Block, long LogIndex) position)
        {
            lock (_leases) return _leases.LastOrDefault(l => l.OpenedAt.CompareTo(position) < 0);
        }

        /// <returns>Whether nothing is left: every lease was opened after <paramref name="block"/>, or not read from its opening.</returns>
        public bool ForgetAfter(long block)
        {
            lock (_leases)
            {
                _leases.RemoveAll(l => !l.ReadFromOpening || l.OpenedAt.Block > block);
                foreach (var lease in _leases) lease.ForgetPaidAfter(block);
                return _leases.Count == 0;
            }
        }
    }

    /// <summary>
    /// A lease this reader knows, with the paid total after each of its settlements it has read; when its opening was read
    /// (<paramref name="readFromOpening"/>), it starts there at 0.
    /// </summary>
    private sealed class KnownLease(
        Guid? id, string tenant, string signer, uint channel, BigInteger chainLeaseId, (long Block, long LogIndex) openedAt, bool readFromOpening)
    {
        private readonly SortedList<(long, long, int), BigInteger> _paid =
            readFromOpening ? new() { [(openedAt.Block, openedAt.LogIndex, 0)] = BigInteger.Zero } : new();

        public Guid? Id { get; } = id;
        public (long Block, long LogIndex) OpenedAt { get; } = openedAt;
        public bool ReadFromOpening { get; } = readFromOpening;
        public string Tenant { get; } = tenant;
        public string Signer { get; } = signer;
        public uint Channel { get; } = channel;
        public BigInteger ChainLeaseId { get; } = chainLeaseId;
        public BigInteger? PaidBefore((long, long, int) position)
        {
            lock (_paid)
            {
                BigInteger? before = null;
                foreach (var (at, paid) in _paid)
                {
                    if (at.CompareTo(position) >= 0) break;
                    before = paid;
                }
                return before;
            }
        }

        public void RecordPaid((long, long, int) position, BigInteger paid)
        {
            lock (_paid) _paid[position] = paid;
        }

        public void ForgetPaidAfter(long block)
        {
            lock (_paid)
            {
                while (_paid.Count > 0 && _paid.Keys[^1].Item1 > block) _paid.RemoveAt(_paid.Count - 1);
            }
        }
    }
}
