using System.Text.Json.Serialization;
using OrleansCompute.Abstractions;

namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// An escrow contract event, decoded, with where it happened. Events order by (block, log index, item): one Settled log
/// carries a lease settlement per applied voucher, told apart by <see cref="Item"/>. The watcher keeps recent ones (as
/// JSON, with their kind) so that it can hand them back to its sink when a reorganization removes their block.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "event")]
[JsonDerivedType(typeof(EscrowLeaseOpened), "LeaseOpened")]
[JsonDerivedType(typeof(EscrowLeaseSettled), "LeaseSettled")]
[JsonDerivedType(typeof(EscrowLeaseClosed), "LeaseClosed")]
[JsonDerivedType(typeof(EscrowLeaseClosing), "LeaseClosing")]
[JsonDerivedType(typeof(EscrowLeaseToppedUp), "LeaseToppedUp")]
[JsonDerivedType(typeof(EscrowWithdrawn), "Withdrawn")]
public abstract record EscrowEvent(long BlockNumber, long LogIndex, string TransactionHash)
{
    /// <summary>The position of this event inside its log (0 for a log that is one event).</summary>
    public int Item { get; init; }

    /// <summary>The hash of the block it was read from: a reorganization that replaces the block changes it.</summary>
    public string BlockHash { get; init; } = string.Empty;

    [JsonIgnore]
    public (long Block, long LogIndex, int Item) Position => (BlockNumber, LogIndex, Item);
}

/// <summary>
/// A tenant funded a lease; <see cref="Signer"/> signs its vouchers (the tenant unless it named a session key), naming the
/// signer's <see cref="Channel"/> the lease took.
/// </summary>
public sealed record EscrowLeaseOpened(Guid LeaseId, string Tenant, string Provider, Credits Deposit, DateTimeOffset Expiry, long BlockNumber, long LogIndex, string TransactionHash)
    : EscrowEvent(BlockNumber, LogIndex, TransactionHash)
{
    public string Signer { get; init; } = Tenant;

    public uint Channel { get; init; }
}

/// <summary>
/// A voucher was redeemed: the lease has been paid <see cref="TotalPaid"/> in all, <see cref="Amount"/> of it by this
/// voucher (0 for a final voucher for what was already paid). The provider's share of it is less the escrow's fee.
/// </summary>
public sealed record EscrowLeaseSettled(Guid LeaseId, string Provider, Credits Amount, Credits TotalPaid, long BlockNumber, long LogIndex, string TransactionHash)
    : EscrowEvent(BlockNumber, LogIndex, TransactionHash)
{
    public string Tenant { get; init; } = string.Empty;
}

/// <summary>
/// A lease closed (final voucher or refund after expiry and the claim window); <see cref="Refund"/> went to the tenant's
/// balance in the escrow, which the tenant withdraws (or its next leases draw on).
/// </summary>
public sealed record EscrowLeaseClosed(Guid LeaseId, string Tenant, Credits Refund, long BlockNumber, long LogIndex, string TransactionHash)
    : EscrowEvent(BlockNumber, LogIndex, TransactionHash);

/// <summary>
/// A final voucher came from neither a settler nor the lease's provider (the tenant leaving without the market): it paid
/// what it says (an <see cref="EscrowLeaseSettled"/> beside this) and the escrow now expires at <see cref="Expiry"/>; the
/// provider's vouchers settle until the claim window after it ends, then anyone may refund the rest.
/// </summary>
public sealed record EscrowLeaseClosing(Guid LeaseId, string Tenant, DateTimeOffset Expiry, long BlockNumber, long LogIndex, string TransactionHash)
    : EscrowEvent(BlockNumber, LogIndex, TransactionHash);

/// <summary>The tenant added <see cref="Amount"/> to a live lease's escrow, which now holds <see cref="Deposit"/> in all.</summary>
public sealed record EscrowLeaseToppedUp(Guid LeaseId, string Tenant, Credits Amount, Credits Deposit, long BlockNumber, long LogIndex, string TransactionHash)
    : EscrowEvent(BlockNumber, LogIndex, TransactionHash);

/// <summary>A provider withdrew its whole balance.</summary>
public sealed record EscrowWithdrawn(string Provider, Credits Amount, long BlockNumber, long LogIndex, string TransactionHash)
    : EscrowEvent(BlockNumber, LogIndex, TransactionHash);
