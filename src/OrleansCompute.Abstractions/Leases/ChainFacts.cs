namespace OrleansCompute.Abstractions.Leases;

// What the chain watcher learned from the escrow contract's events. Grains trust these, never a client's word.

/// <summary>A <c>LeaseOpened</c> event: the tenant's escrow holds <see cref="Deposit"/> for the provider until <see cref="Expiry"/>.</summary>
[GenerateSerializer, Immutable, Alias("occ.escrow-funded")]
public sealed record EscrowFunded(
    [property: Id(0)] string Tenant,
    [property: Id(1)] string Provider,
    [property: Id(2)] Credits Deposit,
    [property: Id(3)] DateTimeOffset Expiry,
    [property: Id(4)] string TransactionHash,
    [property: Id(5)] long BlockNumber)
{
    /// <summary>Who signs the lease's vouchers: the tenant, or the session key the tenant named when opening the escrow.</summary>
    [Id(6)] public string? Signer { get; init; }

    /// <summary>The signer's channel (escrow word) the lease took: its vouchers must name it.</summary>
    [Id(7)] public uint Channel { get; init; }
}

/// <summary>A <c>LeaseToppedUp</c> event: the tenant added to the escrow, which now holds <see cref="Deposit"/>.</summary>
[GenerateSerializer, Immutable, Alias("occ.escrow-topped-up")]
public sealed record EscrowToppedUp(
    [property: Id(0)] Credits Amount,
    [property: Id(1)] Credits Deposit,
    [property: Id(2)] string TransactionHash,
    [property: Id(3)] long BlockNumber);

/// <summary>A <c>LeaseSettled</c> event: <see cref="Amount"/> newly paid to the provider, <see cref="TotalPaid"/> in all.</summary>
[GenerateSerializer, Immutable, Alias("occ.escrow-settled")]
public sealed record EscrowSettled(
    [property: Id(0)] string Provider,
    [property: Id(1)] Credits Amount,
    [property: Id(2)] Credits TotalPaid,
    [property: Id(3)] string TransactionHash,
    [property: Id(4)] long BlockNumber);

/// <summary>
/// A <c>LeaseClosing</c> event: the tenant's own final voucher (not the market's) paid what it says and brought the escrow's
/// expiry forward to <see cref="Expiry"/>; after the claim window anyone may refund the rest.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.escrow-closing")]
public sealed record EscrowClosing(
    [property: Id(0)] DateTimeOffset Expiry,
    [property: Id(1)] string TransactionHash,
    [property: Id(2)] long BlockNumber);

/// <summary>A <c>LeaseClosed</c> event: the escrow is closed and <see cref="Refund"/> went to the tenant's balance in the escrow.</summary>
[GenerateSerializer, Immutable, Alias("occ.escrow-closed")]
public sealed record EscrowClosed(
    [property: Id(0)] Credits Refund,
    [property: Id(1)] string TransactionHash,
    [property: Id(2)] long BlockNumber);
