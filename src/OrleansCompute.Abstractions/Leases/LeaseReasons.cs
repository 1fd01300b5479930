namespace OrleansCompute.Abstractions.Leases;

/// <summary>Stable codes that say why a lease moved, shown with each transition.</summary>
public static class LeaseReasons
{
    public const string Requested = "Requested";
    public const string SlotsReserved = "SlotsReserved";
    /// <summary>A request that allowed a partial fill got fewer slots than it asked for (and at least its minimum).</summary>
    public const string PartialFill = "PartialFill";
    public const string EscrowFunded = "EscrowFunded";
    public const string EscrowMismatch = "EscrowMismatch";
    public const string FundedAfterExpiry = "FundedAfterExpiry";
    public const string SlotsActivated = "SlotsActivated";
    public const string AwaitingStart = "AwaitingStart";
    public const string WindowStarted = "WindowStarted";
    public const string SlotsLost = "SlotsLost";
    public const string EndedByTenant = "EndedByTenant";
    public const string WindowElapsed = "WindowElapsed";
    public const string CancelledByTenant = "CancelledByTenant";
    public const string ReservationNotFunded = "ReservationNotFunded";
    public const string FinalVoucherAccepted = "FinalVoucherAccepted";
    public const string SettlementRejected = "SettlementRejected";
    public const string UsageVoucherAccepted = "UsageVoucherAccepted";
    public const string EscrowToppedUp = "EscrowToppedUp";
    /// <summary>
    /// A settlement paid the provider on chain (a usage voucher while the lease runs, or the final one): the lease's
    /// settlement history, a transition each, with the amount and transaction.
    /// </summary>
    public const string PaidOnChain = "PaidOnChain";
    public const string SettledOnChain = "SettledOnChain";
    public const string ProviderReclaimed = "ProviderReclaimed";
    public const string MovedToSlot = "MovedToSlot";
    public const string RefundedOnChain = "RefundedOnChain";
    /// <summary>The tenant submitted its own final voucher to the escrow, without the market: the escrow is closing.</summary>
    public const string ClosingOnChain = "ClosingOnChain";
    /// <summary>A chain reorganization removed a funding, top-up, payment or close the lease had seen; it was undone.</summary>
    public const string ReorgedOut = "ReorgedOut";
}
