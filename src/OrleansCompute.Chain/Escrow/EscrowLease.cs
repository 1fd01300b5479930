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

    /// <summary>What a refund (or a final voucher for what was already paid) would return to the tenant now.</summary>
    public Credits Unpaid => Closed ? Credits.Zero : Deposit - Paid;
}

/// <summary>
/// The escrow's books read at one block: the token balance the contract holds against what it owes.
/// Conservation holds when <see cref="Balances"/> is true.
/// </summary>
public sealed record EscrowBalanceSheet(long BlockNumber, Credits TokenBalance, Credits TotalEscrowed, Credits TotalOwed, Credits FeesAccrued)
{
    public bool Balances => TokenBalance == TotalEscrowed + TotalOwed + FeesAccrued;
}
