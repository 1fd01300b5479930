namespace OrleansCompute.Abstractions.Accounts;

/// <summary>A tenant or provider, keyed by its Ethereum address (see <see cref="AccountKeys"/>).</summary>
public interface IAccountGrain : IGrainWithStringKey
{
    Task AddLeaseAsync(Guid leaseId);

    Task AddPoolAsync(string poolKey);

    Task AddOrderAsync(string orderId);

    /// <summary>
    /// What lease <paramref name="leaseId"/> has paid this provider on chain moved from <paramref name="paidBefore"/> to
    /// <paramref name="paid"/>: up for a payment, down when a reorganization removed one; the earnings move by as much. The
    /// account remembers the recent leases' totals, so the same move told again (a chain event handled again after a
    /// failure) changes nothing; for a lease it no longer remembers it takes <paramref name="paidBefore"/> as what it counted.
    /// </summary>
    Task RecordLeasePaidAsync(Guid leaseId, Credits paidBefore, Credits paid);

    /// <summary>This provider withdrew <paramref name="amount"/> from the escrow contract; once per transaction, however often the event is seen.</summary>
    Task RecordWithdrawalAsync(Credits amount, string transactionHash);

    /// <summary>A chain reorganization removed the withdrawal in <paramref name="transactionHash"/>; nothing when it was not recorded.</summary>
    Task RollBackWithdrawalAsync(Credits amount, string transactionHash);

    [ReadOnly]
    ValueTask<AccountSnapshot> GetAsync();
}

[GenerateSerializer, Immutable, Alias("occ.account-snapshot")]
public sealed record AccountSnapshot(
    [property: Id(0)] string Address,
    [property: Id(1)] IReadOnlyList<Guid> Leases,
    [property: Id(2)] IReadOnlyList<string> Pools,
    [property: Id(3)] Credits Earned,
    [property: Id(4)] Credits Withdrawn,
    [property: Id(5)] IReadOnlyList<string> Orders);

/// <summary>Account keys are lowercase 0x addresses, so one account never has two grains.</summary>
public static class AccountKeys
{
    public static bool IsAddress(string? text) =>
        text is { Length: 42 } && text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) &&
        text.AsSpan(2).ContainsAnyExcept("0123456789abcdefABCDEF") is false;

    public static string Normalize(string address) => address.ToLowerInvariant();
}
