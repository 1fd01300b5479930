using OrleansCompute.Abstractions;

namespace OrleansCompute.Chain.Escrow;

/// <summary>An escrow contract event, decoded, with where it happened. Events order by (block, log index).</summary>
public abstract record EscrowEvent(long BlockNumber, long LogIndex, string TransactionHash);

/// <summary>A tenant funded a lease.</summary>
public sealed record EscrowLeaseOpened(Guid LeaseId, string Tenant, string Provider, Credits Deposit, DateTimeOffset Expiry, long BlockNumber, long LogIndex, string TransactionHash)
    : EscrowEvent(BlockNumber, LogIndex, TransactionHash);

/// <summary>A voucher was redeemed: <see cref="Amount"/> newly paid, <see cref="TotalPaid"/> in total. A final voucher for what was already paid has Amount 0.</summary>
public sealed record EscrowLeaseSettled(Guid LeaseId, string Provider, Credits Amount, Credits TotalPaid, long BlockNumber, long LogIndex, string TransactionHash)
    : EscrowEvent(BlockNumber, LogIndex, TransactionHash);

/// <summary>A lease closed (final voucher or refund after expiry); <see cref="Refund"/> went back to the tenant.</summary>
public sealed record EscrowLeaseClosed(Guid LeaseId, string Tenant, Credits Refund, long BlockNumber, long LogIndex, string TransactionHash)
    : EscrowEvent(BlockNumber, LogIndex, TransactionHash);

/// <summary>A provider withdrew its whole balance.</summary>
public sealed record EscrowWithdrawn(string Provider, Credits Amount, long BlockNumber, long LogIndex, string TransactionHash)
    : EscrowEvent(BlockNumber, LogIndex, TransactionHash);
