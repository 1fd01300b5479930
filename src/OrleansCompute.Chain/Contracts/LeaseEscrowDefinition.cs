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
}

// Structs

[Struct("Voucher")]
public partial class Voucher
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint256", "amount", 2)]
    public virtual BigInteger Amount { get; set; }

    [Parameter("bool", "isFinal", 3)]
    public virtual bool IsFinal { get; set; }
}

// Functions

[Function("credit", "address")]
public partial class CreditFunction : FunctionMessage { }

[Function("eip712Domain", typeof(Eip712DomainOutputDTO))]
public partial class Eip712DomainFunction : FunctionMessage { }

[Function("hashVoucher", "bytes32")]
public partial class HashVoucherFunction : FunctionMessage
{
    [Parameter("tuple", "voucher", 1)]
    public virtual Voucher Voucher { get; set; } = new();
}

[Function("leases", typeof(LeasesOutputDTO))]
public partial class LeasesFunction : FunctionMessage
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }
}

[Function("openLease")]
public partial class OpenLeaseFunction : FunctionMessage
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("address", "provider", 2)]
    public virtual string Provider { get; set; } = string.Empty;

    [Parameter("uint128", "deposit", 3)]
    public virtual BigInteger Deposit { get; set; }

    [Parameter("uint64", "expiry", 4)]
    public virtual ulong Expiry { get; set; }
}

[Function("providerBalance", "uint256")]
public partial class ProviderBalanceFunction : FunctionMessage
{
    [Parameter("address", "provider", 1)]
    public virtual string Provider { get; set; } = string.Empty;
}

[Function("refund")]
public partial class RefundFunction : FunctionMessage
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }
}

[Function("settle")]
public partial class SettleFunction : FunctionMessage
{
    [Parameter("tuple", "voucher", 1)]
    public virtual Voucher Voucher { get; set; } = new();

    [Parameter("bytes", "signature", 2)]
    public virtual byte[] Signature { get; set; } = [];
}

[Function("settleBatch")]
public partial class SettleBatchFunction : FunctionMessage
{
    [Parameter("tuple[]", "vouchers", 1)]
    public virtual List<Voucher> Vouchers { get; set; } = [];

    [Parameter("bytes[]", "signatures", 2)]
    public virtual List<byte[]> Signatures { get; set; } = [];
}

[Function("totalEscrowed", "uint256")]
public partial class TotalEscrowedFunction : FunctionMessage { }

[Function("totalOwed", "uint256")]
public partial class TotalOwedFunction : FunctionMessage { }

[Function("withdraw")]
public partial class WithdrawFunction : FunctionMessage { }

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
public partial class LeasesOutputDTO : IFunctionOutputDTO
{
    [Parameter("address", "tenant", 1)]
    public virtual string Tenant { get; set; } = string.Empty;

    [Parameter("address", "provider", 2)]
    public virtual string Provider { get; set; } = string.Empty;

    [Parameter("uint128", "deposit", 3)]
    public virtual BigInteger Deposit { get; set; }

    [Parameter("uint128", "paid", 4)]
    public virtual BigInteger Paid { get; set; }

    [Parameter("uint64", "expiry", 5)]
    public virtual ulong Expiry { get; set; }

    [Parameter("bool", "closed", 6)]
    public virtual bool Closed { get; set; }
}

// Events

[Event("EIP712DomainChanged")]
public partial class EIP712DomainChangedEventDTO : IEventDTO { }

[Event("LeaseOpened")]
public partial class LeaseOpenedEventDTO : IEventDTO
{
    [Parameter("uint256", "leaseId", 1, true)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("address", "tenant", 2, true)]
    public virtual string Tenant { get; set; } = string.Empty;

    [Parameter("address", "provider", 3, true)]
    public virtual string Provider { get; set; } = string.Empty;

    [Parameter("uint256", "deposit", 4, false)]
    public virtual BigInteger Deposit { get; set; }

    [Parameter("uint64", "expiry", 5, false)]
    public virtual ulong Expiry { get; set; }
}

[Event("LeaseSettled")]
public partial class LeaseSettledEventDTO : IEventDTO
{
    [Parameter("uint256", "leaseId", 1, true)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("address", "provider", 2, true)]
    public virtual string Provider { get; set; } = string.Empty;

    [Parameter("uint256", "amount", 3, false)]
    public virtual BigInteger Amount { get; set; }

    [Parameter("uint256", "totalPaid", 4, false)]
    public virtual BigInteger TotalPaid { get; set; }
}

[Event("LeaseClosed")]
public partial class LeaseClosedEventDTO : IEventDTO
{
    [Parameter("uint256", "leaseId", 1, true)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("address", "tenant", 2, true)]
    public virtual string Tenant { get; set; } = string.Empty;

    [Parameter("uint256", "refund", 3, false)]
    public virtual BigInteger Refund { get; set; }
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

[Error("BadSignature")]
public partial class BadSignatureError : IErrorDTO
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }
}

[Error("EmptyBatch")]
public partial class EmptyBatchError : IErrorDTO { }

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

[Error("ExpiryInPast")]
public partial class ExpiryInPastError : IErrorDTO
{
    [Parameter("uint64", "expiry", 1)]
    public virtual ulong Expiry { get; set; }
}

[Error("InvalidShortString")]
public partial class InvalidShortStringError : IErrorDTO { }

[Error("LeaseAlreadyClosed")]
public partial class LeaseAlreadyClosedError : IErrorDTO
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }
}

[Error("LeaseExists")]
public partial class LeaseExistsError : IErrorDTO
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }
}

[Error("LengthMismatch")]
public partial class LengthMismatchError : IErrorDTO { }

[Error("NotExpired")]
public partial class NotExpiredError : IErrorDTO
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }

    [Parameter("uint64", "expiry", 2)]
    public virtual ulong Expiry { get; set; }
}

[Error("NothingToWithdraw")]
public partial class NothingToWithdrawError : IErrorDTO { }

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

[Error("StringTooLong")]
public partial class StringTooLongError : IErrorDTO
{
    [Parameter("string", "str", 1)]
    public virtual string Str { get; set; } = string.Empty;
}

[Error("UnknownLease")]
public partial class UnknownLeaseError : IErrorDTO
{
    [Parameter("uint256", "leaseId", 1)]
    public virtual BigInteger LeaseId { get; set; }
}

[Error("ZeroAddress")]
public partial class ZeroAddressError : IErrorDTO { }

[Error("ZeroDeposit")]
public partial class ZeroDepositError : IErrorDTO { }
