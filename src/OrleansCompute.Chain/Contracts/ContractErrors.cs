using OrleansCompute.Chain.Contracts.ComputeCredit;
using OrleansCompute.Chain.Contracts.LeaseEscrow;

namespace OrleansCompute.Chain.Contracts;

/// <summary>
/// Every custom error our contracts (and the OpenZeppelin code they inherit) can revert with; the revert decoder matches
/// selectors against these. Errors both contracts declare (Ownable's) are listed once.
/// </summary>
public static class ContractErrors
{
    public static IReadOnlyList<Type> All { get; } =
    [
        // LeaseEscrow
        typeof(BadExpiryError),
        typeof(BadSignatureError),
        typeof(BalanceOverflowError),
        typeof(BundleSizeError),
        typeof(ChannelTooLargeError),
        typeof(ClaimWindowOverError),
        typeof(ClaimWindowTooLongError),
        typeof(DepositTooLargeError),
        typeof(ExceedsDepositError),
        typeof(FeeTooHighError),
        typeof(InvalidShortStringError),
        typeof(LeaseAlreadyClosedError),
        typeof(LeaseExistsError),
        typeof(LeaseExpiredError),
        typeof(LeaseIdTooLargeError),
        typeof(MalformedBatchError),
        typeof(NotExpiredError),
        typeof(NotTenantError),
        typeof(NothingToWithdrawError),
        typeof(OwnershipCannotBeRenouncedError),
        typeof(PausedError),
        typeof(ReentrancyGuardReentrantCallError),
        typeof(SafeERC20FailedOperationError),
        typeof(StaleLeaseIdError),
        typeof(StaleVoucherError),
        typeof(StringTooLongError),
        typeof(UnknownLeaseError),
        typeof(ZeroAddressError),
        typeof(ZeroDepositError),
        // ComputeCredit (and Ownable, which both inherit)
        typeof(ERC20InsufficientAllowanceError),
        typeof(ERC20InsufficientBalanceError),
        typeof(ERC20InvalidApproverError),
        typeof(ERC20InvalidReceiverError),
        typeof(ERC20InvalidSenderError),
        typeof(ERC20InvalidSpenderError),
        typeof(Contracts.ComputeCredit.OwnableInvalidOwnerError),
        typeof(Contracts.ComputeCredit.OwnableUnauthorizedAccountError),
    ];
}
