using OrleansCompute.Abstractions.Inference;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Abstractions.Leases;

/// <summary>One transition of a lease and why it happened.</summary>
[GenerateSerializer, Immutable, Alias("occ.lease-transition")]
public sealed record LeaseTransition(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] LeaseStatus Status,
    [property: Id(2)] string Reason,
    [property: Id(3)] string? Detail = null);

/// <summary>
/// What the tenant must sign to pay for the lease: the EIP-712 voucher
/// <c>Voucher(uint256 leaseId, uint256 channel, uint256 amount, bool isFinal)</c> for the escrow contract, where
/// <see cref="Channel"/> is the signer's channel the lease's escrow took.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.voucher-request")]
public sealed record VoucherRequest(
    [property: Id(0)] Guid LeaseId,
    [property: Id(1)] string ChainLeaseId,
    [property: Id(2)] Credits Amount,
    [property: Id(3)] bool IsFinal,
    [property: Id(4)] uint Channel = 0);

/// <summary>A provider's notice that it takes back a slot of the lease at <see cref="At"/>.</summary>
[GenerateSerializer, Immutable, Alias("occ.slot-reclaim")]
public sealed record SlotReclaim([property: Id(0)] string SlotKey, [property: Id(1)] DateTimeOffset At);

/// <summary>A lease as its grain holds it.</summary>
[GenerateSerializer, Immutable, Alias("occ.lease-snapshot")]
public sealed record LeaseSnapshot
{
    [Id(0)] public required Guid Id { get; init; }
    /// <summary>The lease id on chain (uint256, decimal).</summary>
    [Id(1)] public required string ChainLeaseId { get; init; }
    [Id(2)] public required LeaseStatus Status { get; init; }
    [Id(3)] public required string Tenant { get; init; }
    [Id(4)] public required LeaseRequest Request { get; init; }
    [Id(5)] public string? PoolKey { get; init; }
    [Id(6)] public string? ProviderId { get; init; }
    /// <summary>The provider's payout address: the escrow must name it.</summary>
    [Id(7)] public string? ProviderAddress { get; init; }
    [Id(8)] public IReadOnlyList<string> SlotKeys { get; init; } = [];
    [Id(9)] public Credits PricePerSlotHour { get; init; }
    /// <summary>What the escrow must hold: price × slots × hours.</summary>
    [Id(10)] public Credits Deposit { get; init; }
    [Id(11)] public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>The reservation is released if the escrow is not seen on chain by then.</summary>
    [Id(12)] public DateTimeOffset? FundBy { get; init; }
    /// <summary>The expiry the escrow must carry at least: after it the tenant can take back whatever was not paid.</summary>
    [Id(13)] public DateTimeOffset? EscrowExpiry { get; init; }
    [Id(14)] public DateTimeOffset? StartedAt { get; init; }
    [Id(15)] public DateTimeOffset? EndsAt { get; init; }
    [Id(16)] public DateTimeOffset? EndedAt { get; init; }
    /// <summary>What the tenant owes: for the time used, fixed when the lease ends; for tokens, kept current as they are used.</summary>
    [Id(17)] public Credits AmountOwed { get; init; }
    [Id(18)] public Credits Paid { get; init; }
    [Id(19)] public Credits Refunded { get; init; }
    [Id(20)] public string? FundingTransaction { get; init; }
    [Id(21)] public string? SettlementTransaction { get; init; }
    [Id(22)] public SignedVoucher? FinalVoucher { get; init; }
    /// <summary>Set once the lease has ended: the voucher the tenant must sign.</summary>
    [Id(23)] public VoucherRequest? VoucherToSign { get; init; }
    [Id(24)] public IReadOnlyList<LeaseTransition> History { get; init; } = [];
    /// <summary>When a reserved block starts; null for a lease that starts as soon as it is funded.</summary>
    [Id(25)] public DateTimeOffset? StartsAt { get; init; }
    /// <summary>The window booked in the slots' calendars: the lease runs inside it.</summary>
    [Id(26)] public LeaseWindow? BookedWindow { get; init; }
    /// <summary>Slots the provider is taking back, and when.</summary>
    [Id(27)] public IReadOnlyList<SlotReclaim> Reclaims { get; init; } = [];
    /// <summary>What inference through the gateway has used on this lease.</summary>
    [Id(28)] public LeaseUsage Usage { get; init; } = LeaseUsage.None;
    /// <summary>Who signs the lease's vouchers when it is not the tenant: the session key named in the escrow.</summary>
    [Id(29)] public string? VoucherSigner { get; init; }
    /// <summary>What the escrow holds, as the chain reported it: the deposit funded plus every top-up.</summary>
    [Id(30)] public Credits Escrowed { get; init; }
    /// <summary>The latest usage voucher accepted (cumulative), handed to settlement.</summary>
    [Id(31)] public SignedVoucher? LastVoucher { get; init; }
    /// <summary>The signer's channel (escrow word) the lease's escrow took, from its LeaseOpened event: vouchers name it.</summary>
    [Id(32)] public uint? Channel { get; init; }

    /// <summary>
    /// What ending the lease now would fix its bill at (<see cref="LeaseBilling.OwedSoFar"/>); null unless it runs. Worked
    /// out when read and never stored, so that the API's JSON shows a running lease's bill, which <see cref="AmountOwed"/>
    /// holds for a lease billed by the hour only once it has ended.
    /// </summary>
    public Credits? OwedSoFar => LeaseBilling.OwedSoFar(this, DateTimeOffset.UtcNow);
}
