// Typed messages for the ComputeCredit ERC-20 (OpenZeppelin ERC20 + Ownable), one to one with its ABI
// (contracts/src/ComputeCredit.sol), written in the style of Nethereum's code generator.
using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;

namespace OrleansCompute.Chain.Contracts.ComputeCredit;

// Deployment

public partial class ComputeCreditDeployment : ContractDeploymentMessage
{
    /// <summary>Nethereum's encoders need a parameterless constructor; set <see cref="ContractDeploymentMessage.ByteCode"/> from the forge artifact.</summary>
    public ComputeCreditDeployment() : base(string.Empty) { }

    public ComputeCreditDeployment(string byteCode) : base(byteCode) { }

    [Parameter("address", "initialOwner", 1)]
    public virtual string InitialOwner { get; set; } = string.Empty;
}

// Functions

[Function("allowance", "uint256")]
public partial class AllowanceFunction : FunctionMessage
{
    [Parameter("address", "owner", 1)]
    public virtual string Owner { get; set; } = string.Empty;

    [Parameter("address", "spender", 2)]
    public virtual string Spender { get; set; } = string.Empty;
}

[Function("approve", "bool")]
public partial class ApproveFunction : FunctionMessage
{
    [Parameter("address", "spender", 1)]
    public virtual string Spender { get; set; } = string.Empty;

    [Parameter("uint256", "value", 2)]
    public virtual BigInteger Value { get; set; }
}

[Function("balanceOf", "uint256")]
public partial class BalanceOfFunction : FunctionMessage
{
    [Parameter("address", "account", 1)]
    public virtual string Account { get; set; } = string.Empty;
}

[Function("decimals", "uint8")]
public partial class DecimalsFunction : FunctionMessage { }

[Function("mint")]
public partial class MintFunction : FunctionMessage
{
    [Parameter("address", "to", 1)]
    public virtual string To { get; set; } = string.Empty;

    [Parameter("uint256", "amount", 2)]
    public virtual BigInteger Amount { get; set; }
}

[Function("name", "string")]
public partial class NameFunction : FunctionMessage { }

[Function("owner", "address")]
public partial class OwnerFunction : FunctionMessage { }

[Function("renounceOwnership")]
public partial class RenounceOwnershipFunction : FunctionMessage { }

[Function("symbol", "string")]
public partial class SymbolFunction : FunctionMessage { }

[Function("totalSupply", "uint256")]
public partial class TotalSupplyFunction : FunctionMessage { }

[Function("transfer", "bool")]
public partial class TransferFunction : FunctionMessage
{
    [Parameter("address", "to", 1)]
    public virtual string To { get; set; } = string.Empty;

    [Parameter("uint256", "value", 2)]
    public virtual BigInteger Value { get; set; }
}

[Function("transferFrom", "bool")]
public partial class TransferFromFunction : FunctionMessage
{
    [Parameter("address", "from", 1)]
    public virtual string From { get; set; } = string.Empty;

    [Parameter("address", "to", 2)]
    public virtual string To { get; set; } = string.Empty;

    [Parameter("uint256", "value", 3)]
    public virtual BigInteger Value { get; set; }
}

[Function("transferOwnership")]
public partial class TransferOwnershipFunction : FunctionMessage
{
    [Parameter("address", "newOwner", 1)]
    public virtual string NewOwner { get; set; } = string.Empty;
}

// Events

[Event("Approval")]
public partial class ApprovalEventDTO : IEventDTO
{
    [Parameter("address", "owner", 1, true)]
    public virtual string Owner { get; set; } = string.Empty;

    [Parameter("address", "spender", 2, true)]
    public virtual string Spender { get; set; } = string.Empty;

    [Parameter("uint256", "value", 3, false)]
    public virtual BigInteger Value { get; set; }
}

[Event("OwnershipTransferred")]
public partial class OwnershipTransferredEventDTO : IEventDTO
{
    [Parameter("address", "previousOwner", 1, true)]
    public virtual string PreviousOwner { get; set; } = string.Empty;

    [Parameter("address", "newOwner", 2, true)]
    public virtual string NewOwner { get; set; } = string.Empty;
}

[Event("Transfer")]
public partial class TransferEventDTO : IEventDTO
{
    [Parameter("address", "from", 1, true)]
    public virtual string From { get; set; } = string.Empty;

    [Parameter("address", "to", 2, true)]
    public virtual string To { get; set; } = string.Empty;

    [Parameter("uint256", "value", 3, false)]
    public virtual BigInteger Value { get; set; }
}

// Errors

[Error("ERC20InsufficientAllowance")]
public partial class ERC20InsufficientAllowanceError : IErrorDTO
{
    [Parameter("address", "spender", 1)]
    public virtual string Spender { get; set; } = string.Empty;

    [Parameter("uint256", "allowance", 2)]
    public virtual BigInteger Allowance { get; set; }

    [Parameter("uint256", "needed", 3)]
    public virtual BigInteger Needed { get; set; }
}

[Error("ERC20InsufficientBalance")]
public partial class ERC20InsufficientBalanceError : IErrorDTO
{
    [Parameter("address", "sender", 1)]
    public virtual string Sender { get; set; } = string.Empty;

    [Parameter("uint256", "balance", 2)]
    public virtual BigInteger Balance { get; set; }

    [Parameter("uint256", "needed", 3)]
    public virtual BigInteger Needed { get; set; }
}

[Error("ERC20InvalidApprover")]
public partial class ERC20InvalidApproverError : IErrorDTO
{
    [Parameter("address", "approver", 1)]
    public virtual string Approver { get; set; } = string.Empty;
}

[Error("ERC20InvalidReceiver")]
public partial class ERC20InvalidReceiverError : IErrorDTO
{
    [Parameter("address", "receiver", 1)]
    public virtual string Receiver { get; set; } = string.Empty;
}

[Error("ERC20InvalidSender")]
public partial class ERC20InvalidSenderError : IErrorDTO
{
    [Parameter("address", "sender", 1)]
    public virtual string Sender { get; set; } = string.Empty;
}

[Error("ERC20InvalidSpender")]
public partial class ERC20InvalidSpenderError : IErrorDTO
{
    [Parameter("address", "spender", 1)]
    public virtual string Spender { get; set; } = string.Empty;
}

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
