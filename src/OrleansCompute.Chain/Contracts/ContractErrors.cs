using OrleansCompute.Chain.Contracts.ComputeCredit;
using OrleansCompute.Chain.Contracts.LeaseEscrow;

namespace OrleansCompute.Chain.Contracts;

/// <summary>Every custom error our contracts (and the OpenZeppelin code they inherit) can revert with; the revert decoder matches selectors against these.</summary>
public static class ContractErrors
{
    public static IReadOnlyList<Type> All { get; } =
    [
        // LeaseEscrow
        typeof(BadSignatureError),
        typeof(EmptyBatchError),
        typeof(ExceedsDepositError),
        typeof(ExpiryInPastError),
        typeof(InvalidShortStringError),
        typeof(LeaseAlreadyClosedError),
        typeof(LeaseExistsError),
        typeof(LengthMismatchError),
        typeof(NotExpiredError),
        typeof(NothingToWithdrawError),
        typeof(ReentrancyGuardReentrantCallError),
        typeof(SafeERC20FailedOperationError),
        typeof(StaleVoucherError),
        typeof(StringTooLongError),
        typeof(UnknownLeaseError),
        typeof(ZeroAddressError),
        typeof(ZeroDepositError),
        // ComputeCredit
        typeof(ERC20InsufficientAllowanceError),
        typeof(ERC20InsufficientBalanceError),
        typeof(ERC20InvalidApproverError),
        typeof(ERC20InvalidReceiverError),
        typeof(ERC20InvalidSenderError),
        typeof(ERC20InvalidSpenderError),
        typeof(OwnableInvalidOwnerError),
        typeof(OwnableUnauthorizedAccountError),
    ];
}
