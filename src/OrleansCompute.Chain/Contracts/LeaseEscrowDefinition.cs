// Typed messages for the LeaseEscrow contract, one to one with its ABI (contracts/src/LeaseEscrow.sol),
// written in the style of Nethereum's code generator.
using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;

namespace OrleansCompute.Chain.Contracts.LeaseEscrow;

// Deployment

public partial class LeaseEscrowDeployment : ContractDeploymentMessage
{
    /// <summary>Nethereum's encoders need a parameterless constructor; set <see cref="ContractDeploymentMessage.ByteCode"/> from the forge artifact.</summary>
    public LeaseEscrowDeployment() : base(string.Empty) { }

    public LeaseEscrowDeployment(string byteCode) : base(byteCode) { }

    [Parameter("address", "credit_", 1)]
    public virtual string Credit { get; set; } = string.Empty;

    [Parameter("address", "admin", 2)]
    public virtual string Admin { get; set; } = string.Empty;

    [Parameter("uint256", "feeBps_", 3)]
    public virtual BigInteger FeeBps { get; set; }

    [Parameter("uint256", "claimWindow_", 4)]
    public virtual BigInteger ClaimWindow { get; set; }
}

// Structs

[Struct("Voucher")]
public partial class Voucher
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint256", "channel", 2)]
    public virtual BigInteger Channel { get; set; }

    [Parameter("uint256", "amount", 3)]
    public virtual BigInteger Amount { get; set; }

    [Parameter("bool", "isFinal", 4)]
    public virtual bool IsFinal { get; set; }
}

// Functions

[Function("BATCH_ENTRY_HEADER_SIZE", "uint256")]
public partial class BatchEntryHeaderSizeFunction : FunctionMessage { }

[Function("BATCH_ITEM_SIZE", "uint256")]
public partial class BatchItemSizeFunction : FunctionMessage { }

[Function("MAX_BUNDLE", "uint256")]
public partial class MaxBundleFunction : FunctionMessage { }

[Function("MAX_CLAIM_WINDOW", "uint256")]
public partial class MaxClaimWindowFunction : FunctionMessage { }

[Function("MAX_CHANNEL", "uint256")]
public partial class MaxChannelFunction : FunctionMessage { }

[Function("MAX_DEPOSIT", "uint256")]
public partial class MaxDepositFunction : FunctionMessage { }

[Function("MAX_FEE_BPS", "uint256")]
public partial class MaxFeeBpsFunction : FunctionMessage { }

[Function("REJECT_BAD_SIGNATURE", "uint8")]
public partial class RejectBadSignatureFunction : FunctionMessage { }

[Function("REJECT_CLAIM_WINDOW_OVER", "uint8")]
public partial class RejectClaimWindowOverFunction : FunctionMessage { }

[Function("REJECT_EXCEEDS_DEPOSIT", "uint8")]
public partial class RejectExceedsDepositFunction : FunctionMessage { }

[Function("REJECT_LEASE_CLOSED", "uint8")]
public partial class RejectLeaseClosedFunction : FunctionMessage { }

[Function("REJECT_LEASE_REPLACED", "uint8")]
public partial class RejectLeaseReplacedFunction : FunctionMessage { }

[Function("REJECT_NOT_SETTLER", "uint8")]
public partial class RejectNotSettlerFunction : FunctionMessage { }

[Function("REJECT_UNKNOWN_LEASE", "uint8")]
public partial class RejectUnknownLeaseFunction : FunctionMessage { }

[Function("acceptOwnership")]
public partial class AcceptOwnershipFunction : FunctionMessage { }

[Function("claimWindow", "uint256")]
public partial class ClaimWindowFunction : FunctionMessage { }

[Function("credit", "address")]
public partial class CreditFunction : FunctionMessage { }

[Function("deposit")]
public partial class DepositFunction : FunctionMessage
{
    [Parameter("uint256", "amount", 1)]
    public virtual BigInteger Amount { get; set; }
}

[Function("eip712Domain", typeof(Eip712DomainOutputDTO))]
public partial class Eip712DomainFunction : FunctionMessage { }

[Function("feeBps", "uint256")]
public partial class FeeBpsFunction : FunctionMessage { }

[Function("feesAccrued", "uint256")]
public partial class FeesAccruedFunction : FunctionMessage { }

[Function("freeChannel", "uint256")]
public partial class FreeChannelFunction : FunctionMessage
{
    [Parameter("address", "signer", 1)]
    public virtual string Signer { get; set; } = string.Empty;

    [Parameter("uint256", "from", 2)]
    public virtual BigInteger From { get; set; }

    [Parameter("uint256", "leaseId", 3)]
    public virtual BigInteger LeaseId { get; set; }
}

[Function("hashSessionKey", "bytes32")]
public partial class HashSessionKeyFunction : FunctionMessage
{
    [Parameter("address", "tenant", 1)]
    public virtual string Tenant { get; set; } = string.Empty;

    [Parameter("uint256", "leaseId", 2)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint256", "channel", 3)]
    public virtual BigInteger Channel { get; set; }
}

[Function("hashVoucher", "bytes32")]
public partial class HashVoucherFunction : FunctionMessage
{
    [Parameter("tuple", "voucher", 1)]
    public virtual Voucher Voucher { get; set; } = new();
}

[Function("hashVoucherBundle", "bytes32")]
public partial class HashVoucherBundleFunction : FunctionMessage
{
    [Parameter("tuple[]", "vouchers", 1)]
    public virtual List<Voucher> Vouchers { get; set; } = [];
}

[Function("lease", typeof(LeaseOutputDTO))]
public partial class LeaseFunction : FunctionMessage
{
    [Parameter("address", "signer", 1)]
    public virtual string Signer { get; set; } = string.Empty;

    [Parameter("uint256", "channel", 2)]
    public virtual BigInteger Channel { get; set; }

    [Parameter("uint256", "leaseId", 3)]
    public virtual BigInteger LeaseId { get; set; }
}

[Function("leaseFeeBps", "uint256")]
public partial class LeaseFeeBpsFunction : FunctionMessage
{
    [Parameter("address", "signer", 1)]
    public virtual string Signer { get; set; } = string.Empty;

    [Parameter("uint256", "channel", 2)]
    public virtual BigInteger Channel { get; set; }

    [Parameter("uint256", "leaseId", 3)]
    public virtual BigInteger LeaseId { get; set; }
}

[Function("leaseKey", "bytes32")]
public partial class LeaseKeyFunction : FunctionMessage
{
    [Parameter("address", "signer", 1)]
    public virtual string Signer { get; set; } = string.Empty;

    [Parameter("uint256", "channel", 2)]
    public virtual BigInteger Channel { get; set; }
}

[Function("openLease", "bytes32")]
public partial class OpenLeaseFunction : FunctionMessage
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint256", "channel", 2)]
    public virtual BigInteger Channel { get; set; }

    [Parameter("address", "provider", 3)]
    public virtual string Provider { get; set; } = string.Empty;

    [Parameter("uint256", "amount", 4)]
    public virtual BigInteger Amount { get; set; }

    [Parameter("uint256", "expiry", 5)]
    public virtual BigInteger Expiry { get; set; }
}

[Function("openLeaseWithSessionKey", "bytes32")]
public partial class OpenLeaseWithSessionKeyFunction : FunctionMessage
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint256", "channel", 2)]
    public virtual BigInteger Channel { get; set; }

    [Parameter("address", "provider", 3)]
    public virtual string Provider { get; set; } = string.Empty;

    [Parameter("uint256", "amount", 4)]
    public virtual BigInteger Amount { get; set; }

    [Parameter("uint256", "expiry", 5)]
    public virtual BigInteger Expiry { get; set; }

    [Parameter("address", "sessionKey", 6)]
    public virtual string SessionKey { get; set; } = string.Empty;

    [Parameter("bytes32", "r", 7)]
    public virtual byte[] R { get; set; } = [];

    [Parameter("bytes32", "vs", 8)]
    public virtual byte[] Vs { get; set; } = [];
}

[Function("owner", "address")]
public partial class OwnerFunction : FunctionMessage { }

[Function("paused", "bool")]
public partial class PausedFunction : FunctionMessage { }

[Function("pendingOwner", "address")]
public partial class PendingOwnerFunction : FunctionMessage { }

[Function("providerAddress", "address")]
public partial class ProviderAddressFunction : FunctionMessage
{
    [Parameter("uint256", "id", 1)]
    public virtual BigInteger Id { get; set; }
}

[Function("providerBalance", "uint256")]
public partial class ProviderBalanceFunction : FunctionMessage
{
    [Parameter("address", "provider", 1)]
    public virtual string Provider { get; set; } = string.Empty;
}

[Function("providerId", "uint256")]
public partial class ProviderIdFunction : FunctionMessage
{
    [Parameter("address", "provider", 1)]
    public virtual string Provider { get; set; } = string.Empty;
}

[Function("refund")]
public partial class RefundFunction : FunctionMessage
{
    [Parameter("address", "signer", 1)]
    public virtual string Signer { get; set; } = string.Empty;

    [Parameter("uint256", "channel", 2)]
    public virtual BigInteger Channel { get; set; }

    [Parameter("uint256", "leaseId", 3)]
    public virtual BigInteger LeaseId { get; set; }
}

[Function("renounceOwnership")]
public partial class RenounceOwnershipFunction : FunctionMessage { }

[Function("setFee")]
public partial class SetFeeFunction : FunctionMessage
{
    [Parameter("uint256", "feeBps_", 1)]
    public virtual BigInteger FeeBps { get; set; }
}

[Function("setSettler")]
public partial class SetSettlerFunction : FunctionMessage
{
    [Parameter("address", "settler", 1)]
    public virtual string Settler { get; set; } = string.Empty;

    [Parameter("bool", "allowed", 2)]
    public virtual bool Allowed { get; set; }
}

[Function("isSettler", "bool")]
public partial class IsSettlerFunction : FunctionMessage
{
    [Parameter("address", "account", 1)]
    public virtual string Account { get; set; } = string.Empty;
}

[Function("setPaused")]
public partial class SetPausedFunction : FunctionMessage
{
    [Parameter("bool", "paused_", 1)]
    public virtual bool Paused { get; set; }
}

[Function("settle")]
public partial class SettleFunction : FunctionMessage
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint256", "channel", 2)]
    public virtual BigInteger Channel { get; set; }

    [Parameter("uint256", "amount", 3)]
    public virtual BigInteger Amount { get; set; }

    [Parameter("bool", "isFinal", 4)]
    public virtual bool IsFinal { get; set; }

    [Parameter("bytes32", "r", 5)]
    public virtual byte[] R { get; set; } = [];

    [Parameter("bytes32", "vs", 6)]
    public virtual byte[] Vs { get; set; } = [];
}

[Function("settleBatch")]
public partial class SettleBatchFunction : FunctionMessage
{
    [Parameter("bytes", "entries", 1)]
    public virtual byte[] Entries { get; set; } = [];
}

[Function("tenantBalance", "uint256")]
public partial class TenantBalanceFunction : FunctionMessage
{
    [Parameter("address", "tenant", 1)]
    public virtual string Tenant { get; set; } = string.Empty;
}

[Function("topUp")]
public partial class TopUpFunction : FunctionMessage
{
    [Parameter("address", "signer", 1)]
    public virtual string Signer { get; set; } = string.Empty;

    [Parameter("uint256", "channel", 2)]
    public virtual BigInteger Channel { get; set; }

    [Parameter("uint256", "leaseId", 3)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint256", "amount", 4)]
    public virtual BigInteger Amount { get; set; }
}

[Function("totalHeld", "uint256")]
public partial class TotalHeldFunction : FunctionMessage { }

[Function("totalOwed", "uint256")]
public partial class TotalOwedFunction : FunctionMessage { }

[Function("transferOwnership")]
public partial class TransferOwnershipFunction : FunctionMessage
{
    [Parameter("address", "newOwner", 1)]
    public virtual string NewOwner { get; set; } = string.Empty;
}

[Function("withdraw")]
public partial class WithdrawFunction : FunctionMessage { }

[Function("withdrawBalance")]
public partial class WithdrawBalanceFunction : FunctionMessage { }

[Function("withdrawFees")]
public partial class WithdrawFeesFunction : FunctionMessage
{
    [Parameter("address", "to", 1)]
    public virtual string To { get; set; } = string.Empty;
}

// Function outputs

[FunctionOutput]
public partial class Eip712DomainOutputDTO : IFunctionOutputDTO
{
    [Parameter("bytes1", "fields", 1)]
    public virtual byte[] Fields { get; set; } = [];

    [Parameter("string", "name", 2)]
    public virtual string Name { get; set; } = string.Empty;

    [Parameter("string", "version", 3)]
    public virtual string Version { get; set; } = string.Empty;

    [Parameter("uint256", "chainId", 4)]
    public virtual BigInteger ChainId { get; set; }

    [Parameter("address", "verifyingContract", 5)]
    public virtual string VerifyingContract { get; set; } = string.Empty;

    [Parameter("bytes32", "salt", 6)]
    public virtual byte[] Salt { get; set; } = [];

    [Parameter("uint256[]", "extensions", 7)]
    public virtual List<BigInteger> Extensions { get; set; } = [];
}

[FunctionOutput]
public partial class LeaseOutputDTO : IFunctionOutputDTO
{
    [Parameter("address", "tenant", 1)]
    public virtual string Tenant { get; set; } = string.Empty;

    [Parameter("address", "provider", 2)]
    public virtual string Provider { get; set; } = string.Empty;

    [Parameter("uint256", "deposit", 3)]
    public virtual BigInteger Deposit { get; set; }

    [Parameter("uint256", "paid", 4)]
    public virtual BigInteger Paid { get; set; }

    [Parameter("uint64", "expiry", 5)]
    public virtual ulong Expiry { get; set; }

    [Parameter("bool", "closed", 6)]
    public virtual bool Closed { get; set; }
}

// Events

[Event("BalanceWithdrawn")]
public partial class BalanceWithdrawnEventDTO : IEventDTO
{
    [Parameter("address", "tenant", 1, true)]
    public virtual string Tenant { get; set; } = string.Empty;

    [Parameter("uint256", "amount", 2, false)]
    public virtual BigInteger Amount { get; set; }
}

[Event("EIP712DomainChanged")]
public partial class EIP712DomainChangedEventDTO : IEventDTO { }

[Event("Deposited")]
public partial class DepositedEventDTO : IEventDTO
{
    [Parameter("address", "tenant", 1, true)]
    public virtual string Tenant { get; set; } = string.Empty;

    [Parameter("uint256", "amount", 2, false)]
    public virtual BigInteger Amount { get; set; }
}

[Event("FeeChanged")]
public partial class FeeChangedEventDTO : IEventDTO
{
    [Parameter("uint256", "feeBps", 1, false)]
    public virtual BigInteger FeeBps { get; set; }
}

[Event("FeesWithdrawn")]
public partial class FeesWithdrawnEventDTO : IEventDTO
{
    [Parameter("address", "to", 1, true)]
    public virtual string To { get; set; } = string.Empty;

    [Parameter("uint256", "amount", 2, false)]
    public virtual BigInteger Amount { get; set; }
}

[Event("LeaseClosed")]
public partial class LeaseClosedEventDTO : IEventDTO
{
    [Parameter("bytes32", "key", 1, true)]
    public virtual byte[] Key { get; set; } = [];

    [Parameter("address", "tenant", 2, true)]
    public virtual string Tenant { get; set; } = string.Empty;

    [Parameter("uint256", "refund", 3, false)]
    public virtual BigInteger Refund { get; set; }
}

[Event("LeaseClosing")]
public partial class LeaseClosingEventDTO : IEventDTO
{
    [Parameter("bytes32", "key", 1, true)]
    public virtual byte[] Key { get; set; } = [];

    [Parameter("uint256", "leaseId", 2, true)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint64", "expiry", 3, false)]
    public virtual ulong Expiry { get; set; }
}

[Event("LeaseOpened")]
public partial class LeaseOpenedEventDTO : IEventDTO
{
    [Parameter("bytes32", "key", 1, true)]
    public virtual byte[] Key { get; set; } = [];

    [Parameter("uint256", "leaseId", 2, true)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("address", "tenant", 3, true)]
    public virtual string Tenant { get; set; } = string.Empty;

    [Parameter("address", "signer", 4, false)]
    public virtual string Signer { get; set; } = string.Empty;

    [Parameter("uint256", "channel", 5, false)]
    public virtual BigInteger Channel { get; set; }

    [Parameter("address", "provider", 6, false)]
    public virtual string Provider { get; set; } = string.Empty;

    [Parameter("uint256", "deposit", 7, false)]
    public virtual BigInteger Deposit { get; set; }

    [Parameter("uint64", "expiry", 8, false)]
    public virtual ulong Expiry { get; set; }
}

[Event("LeaseToppedUp")]
public partial class LeaseToppedUpEventDTO : IEventDTO
{
    [Parameter("bytes32", "key", 1, true)]
    public virtual byte[] Key { get; set; } = [];

    [Parameter("uint256", "amount", 2, false)]
    public virtual BigInteger Amount { get; set; }

    [Parameter("uint256", "deposit", 3, false)]
    public virtual BigInteger Deposit { get; set; }
}

[Event("OwnershipTransferStarted")]
public partial class OwnershipTransferStartedEventDTO : IEventDTO
{
    [Parameter("address", "previousOwner", 1, true)]
    public virtual string PreviousOwner { get; set; } = string.Empty;

    [Parameter("address", "newOwner", 2, true)]
    public virtual string NewOwner { get; set; } = string.Empty;
}

[Event("OwnershipTransferred")]
public partial class OwnershipTransferredEventDTO : IEventDTO
{
    [Parameter("address", "previousOwner", 1, true)]
    public virtual string PreviousOwner { get; set; } = string.Empty;

    [Parameter("address", "newOwner", 2, true)]
    public virtual string NewOwner { get; set; } = string.Empty;
}

[Event("PauseChanged")]
public partial class PauseChangedEventDTO : IEventDTO
{
    [Parameter("bool", "paused", 1, false)]
    public virtual bool Paused { get; set; }
}

[Event("SettlerChanged")]
public partial class SettlerChangedEventDTO : IEventDTO
{
    [Parameter("address", "settler", 1, true)]
    public virtual string Settler { get; set; } = string.Empty;

    [Parameter("bool", "allowed", 2, false)]
    public virtual bool Allowed { get; set; }
}

[Event("ProviderRegistered")]
public partial class ProviderRegisteredEventDTO : IEventDTO
{
    [Parameter("address", "provider", 1, true)]
    public virtual string Provider { get; set; } = string.Empty;

    [Parameter("uint32", "providerId", 2, true)]
    public virtual uint ProviderId { get; set; }
}

[Event("SettleRejected")]
public partial class SettleRejectedEventDTO : IEventDTO
{
    [Parameter("uint256", "leaseId", 1, true)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint8", "reason", 2, false)]
    public virtual byte Reason { get; set; }
}

[Event("Settled")]
public partial class SettledEventDTO : IEventDTO
{
    [Parameter("bytes", "records", 1, false)]
    public virtual byte[] Records { get; set; } = [];
}

[Event("Withdrawn")]
public partial class WithdrawnEventDTO : IEventDTO
{
    [Parameter("address", "provider", 1, true)]
    public virtual string Provider { get; set; } = string.Empty;

    [Parameter("uint256", "amount", 2, false)]
    public virtual BigInteger Amount { get; set; }
}

// Errors

[Error("BadExpiry")]
public partial class BadExpiryError : IErrorDTO
{
    [Parameter("uint256", "expiry", 1)]
    public virtual BigInteger Expiry { get; set; }
}

[Error("BadSignature")]
public partial class BadSignatureError : IErrorDTO
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }
}

[Error("BalanceOverflow")]
public partial class BalanceOverflowError : IErrorDTO { }

[Error("BundleSize")]
public partial class BundleSizeError : IErrorDTO
{
    [Parameter("uint256", "count", 1)]
    public virtual BigInteger Count { get; set; }
}

[Error("OwnershipCannotBeRenounced")]
public partial class OwnershipCannotBeRenouncedError : IErrorDTO { }

[Error("ChannelTooLarge")]
public partial class ChannelTooLargeError : IErrorDTO
{
    [Parameter("uint256", "channel", 1)]
    public virtual BigInteger Channel { get; set; }
}

[Error("ClaimWindowOver")]
public partial class ClaimWindowOverError : IErrorDTO
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint256", "settleableUntil", 2)]
    public virtual BigInteger SettleableUntil { get; set; }
}

[Error("ClaimWindowTooLong")]
public partial class ClaimWindowTooLongError : IErrorDTO
{
    [Parameter("uint256", "claimWindow", 1)]
    public virtual BigInteger ClaimWindow { get; set; }
}

[Error("DepositTooLarge")]
public partial class DepositTooLargeError : IErrorDTO
{
    [Parameter("uint256", "deposit", 1)]
    public virtual BigInteger Deposit { get; set; }
}

[Error("ExceedsDeposit")]
public partial class ExceedsDepositError : IErrorDTO
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint256", "amount", 2)]
    public virtual BigInteger Amount { get; set; }

    [Parameter("uint256", "deposit", 3)]
    public virtual BigInteger Deposit { get; set; }
}

[Error("FeeTooHigh")]
public partial class FeeTooHighError : IErrorDTO
{
    [Parameter("uint256", "feeBps", 1)]
    public virtual BigInteger FeeBps { get; set; }
}

[Error("InvalidShortString")]
public partial class InvalidShortStringError : IErrorDTO { }

[Error("LeaseAlreadyClosed")]
public partial class LeaseAlreadyClosedError : IErrorDTO
{
    [Parameter("bytes32", "key", 1)]
    public virtual byte[] Key { get; set; } = [];
}

[Error("LeaseExists")]
public partial class LeaseExistsError : IErrorDTO
{
    [Parameter("bytes32", "key", 1)]
    public virtual byte[] Key { get; set; } = [];
}

[Error("LeaseExpired")]
public partial class LeaseExpiredError : IErrorDTO
{
    [Parameter("bytes32", "key", 1)]
    public virtual byte[] Key { get; set; } = [];

    [Parameter("uint256", "expiry", 2)]
    public virtual BigInteger Expiry { get; set; }
}

[Error("LeaseIdTooLarge")]
public partial class LeaseIdTooLargeError : IErrorDTO
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }
}

[Error("MalformedBatch")]
public partial class MalformedBatchError : IErrorDTO
{
    [Parameter("uint256", "length", 1)]
    public virtual BigInteger Length { get; set; }
}

[Error("NotExpired")]
public partial class NotExpiredError : IErrorDTO
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint256", "refundableFrom", 2)]
    public virtual BigInteger RefundableFrom { get; set; }
}

[Error("NotTenant")]
public partial class NotTenantError : IErrorDTO
{
    [Parameter("address", "caller", 1)]
    public virtual string Caller { get; set; } = string.Empty;
}

[Error("NothingToWithdraw")]
public partial class NothingToWithdrawError : IErrorDTO { }

[Error("OwnableInvalidOwner")]
public partial class OwnableInvalidOwnerError : IErrorDTO
{
    [Parameter("address", "owner", 1)]
    public virtual string Owner { get; set; } = string.Empty;
}

[Error("OwnableUnauthorizedAccount")]
public partial class OwnableUnauthorizedAccountError : IErrorDTO
{
    [Parameter("address", "account", 1)]
    public virtual string Account { get; set; } = string.Empty;
}

[Error("Paused")]
public partial class PausedError : IErrorDTO { }

[Error("ReentrancyGuardReentrantCall")]
public partial class ReentrancyGuardReentrantCallError : IErrorDTO { }

[Error("SafeERC20FailedOperation")]
public partial class SafeERC20FailedOperationError : IErrorDTO
{
    [Parameter("address", "token", 1)]
    public virtual string Token { get; set; } = string.Empty;
}

[Error("StaleVoucher")]
public partial class StaleVoucherError : IErrorDTO
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint256", "amount", 2)]
    public virtual BigInteger Amount { get; set; }

    [Parameter("uint256", "paid", 3)]
    public virtual BigInteger Paid { get; set; }
}

[Error("StaleLeaseId")]
public partial class StaleLeaseIdError : IErrorDTO
{
    [Parameter("bytes32", "key", 1)]
    public virtual byte[] Key { get; set; } = [];

    [Parameter("uint256", "leaseId", 2)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint256", "previousTag", 3)]
    public virtual BigInteger PreviousTag { get; set; }
}

[Error("StringTooLong")]
public partial class StringTooLongError : IErrorDTO
{
    [Parameter("string", "str", 1)]
    public virtual string Str { get; set; } = string.Empty;
}

[Error("UnknownLease")]
public partial class UnknownLeaseError : IErrorDTO
{
    [Parameter("address", "signer", 1)]
    public virtual string Signer { get; set; } = string.Empty;

    [Parameter("uint256", "leaseId", 2)]
    public virtual BigInteger LeaseId { get; set; }
}

[Error("ZeroAddress")]
public partial class ZeroAddressError : IErrorDTO { }

[Error("ZeroDeposit")]
public partial class ZeroDepositError : IErrorDTO { }

