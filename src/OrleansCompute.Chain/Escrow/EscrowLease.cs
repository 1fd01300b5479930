using OrleansCompute.Abstractions;

namespace OrleansCompute.Chain.Escrow;

/// <summary>A lease as the escrow contract stores it.</summary>
public sealed record EscrowLease(
    Guid LeaseId,
    string Tenant,
    string Provider,
    Credits Deposit,
    Credits Paid,
    DateTimeOffset Expiry,
    bool Closed)
{
    /// <summary>Whose vouchers count: the tenant, or the session key it named when opening.</summary>
    public string Signer { get; init; } = Tenant;

    /// <summary>The signer's channel the lease was opened on.</summary>
    public uint Channel { get; init; }

    /// <summary>A later lease took the channel: this one is closed, and its amounts live only in its events.</summary>
    public bool Superseded { get; init; }

    /// <summary>What a refund (or a final voucher for what was already paid) would return to the tenant now.</summary>
    public Credits Unpaid => Closed ? Credits.Zero : Deposit - Paid;
}

/// <summary>
/// The escrow's books read at one block: the token balance the contract holds against what it owes. <see cref="TotalHeld"/>
/// is what it holds for tenants: open escrows plus tenant balances. Conservation holds when <see cref="Balances"/> is true.
/// </summary>
public sealed record EscrowBalanceSheet(long BlockNumber, Credits TokenBalance, Credits TotalHeld, Credits TotalOwed, Credits FeesAccrued)
{
    public bool Balances => TokenBalance == TotalHeld + TotalOwed + FeesAccrued;
}
