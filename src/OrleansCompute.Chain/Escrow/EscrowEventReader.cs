using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nethereum.ABI.Model;
using Nethereum.Contracts;
using Nethereum.Hex.HexTypes;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Util;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Rpc;

namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// Reads the escrow's four events for a block range (one eth_getLogs on the escrow address) and decodes them.
/// Leases whose id did not come from this market (wider than a Guid) are skipped.
/// </summary>
public sealed class EscrowEventReader(ChainRpc rpc, string escrowAddress, ILogger<EscrowEventReader>? logger = null)
{
    private static readonly EventABI LeaseOpened = ABITypedRegistry.GetEvent<LeaseOpenedEventDTO>();
    private static readonly EventABI LeaseSettled = ABITypedRegistry.GetEvent<LeaseSettledEventDTO>();
    private static readonly EventABI LeaseClosed = ABITypedRegistry.GetEvent<LeaseClosedEventDTO>();
    private static readonly EventABI Withdrawn = ABITypedRegistry.GetEvent<WithdrawnEventDTO>();

    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    public string EscrowAddress { get; } = escrowAddress;

    public async Task<long> GetLatestBlockAsync(CancellationToken cancellationToken = default) =>
        (long)(await rpc.CallAsync(web3 => web3.Eth.Blocks.GetBlockNumber.SendRequestAsync(), cancellationToken)).Value;

    /// <summary>Events in blocks <paramref name="fromBlock"/>..<paramref name="toBlock"/> (inclusive), in (block, log index) order.</summary>
    public async Task<IReadOnlyList<EscrowEvent>> ReadAsync(long fromBlock, long toBlock, CancellationToken cancellationToken = default)
    {
        if (toBlock < fromBlock) return [];
        var filter = new NewFilterInput
        {
            Address = [EscrowAddress],
            FromBlock = new BlockParameter(new HexBigInteger(fromBlock)),
            ToBlock = new BlockParameter(new HexBigInteger(toBlock)),
        };
        var logs = await rpc.CallAsync(web3 => web3.Eth.Filters.GetLogs.SendRequestAsync(filter), cancellationToken);
        var events = new List<EscrowEvent>(logs.Length);
        foreach (var log in logs)
        {
            if (log.Removed) continue;
            if (Decode(log) is { } decoded) events.Add(decoded);
        }
        events.Sort(static (a, b) => (a.BlockNumber, a.LogIndex).CompareTo((b.BlockNumber, b.LogIndex)));
        return events;
    }

    private EscrowEvent? Decode(FilterLog log)
    {
        var block = (long)log.BlockNumber.Value;
        var index = (long)log.LogIndex.Value;
        var hash = log.TransactionHash;
        if (LeaseOpened.IsLogForEvent(log))
        {
            var e = log.DecodeEvent<LeaseOpenedEventDTO>().Event;
            return OurLease(e.LeaseId, log) is { } id
                ? new EscrowLeaseOpened(id, Checksum(e.Tenant), Checksum(e.Provider), CreditsOnChain.FromUnits(e.Deposit), UnixTime.FromSeconds(e.Expiry), block, index, hash)
                : null;
        }
        if (LeaseSettled.IsLogForEvent(log))
        {
            var e = log.DecodeEvent<LeaseSettledEventDTO>().Event;
            return OurLease(e.LeaseId, log) is { } id
                ? new EscrowLeaseSettled(id, Checksum(e.Provider), CreditsOnChain.FromUnits(e.Amount), CreditsOnChain.FromUnits(e.TotalPaid), block, index, hash)
                : null;
        }
        if (LeaseClosed.IsLogForEvent(log))
        {
            var e = log.DecodeEvent<LeaseClosedEventDTO>().Event;
            return OurLease(e.LeaseId, log) is { } id
                ? new EscrowLeaseClosed(id, Checksum(e.Tenant), CreditsOnChain.FromUnits(e.Refund), block, index, hash)
                : null;
        }
        if (Withdrawn.IsLogForEvent(log))
        {
            var e = log.DecodeEvent<WithdrawnEventDTO>().Event;
            return new EscrowWithdrawn(Checksum(e.Provider), CreditsOnChain.FromUnits(e.Amount), block, index, hash);
        }
        // EIP712DomainChanged and anything added later: not part of the lease books.
        return null;
    }

    private Guid? OurLease(System.Numerics.BigInteger chainLeaseId, FilterLog log)
    {
        var id = LeaseIds.FromChainId(chainLeaseId);
        if (id is null) _logger.LogDebug("Skipping event for foreign lease id {LeaseId} in {Hash}", chainLeaseId, log.TransactionHash);
        return id;
    }

    private static string Checksum(string address) => AddressUtil.Current.ConvertToChecksumAddress(address);
}
