namespace OrleansCompute.Chain.Rpc;

/// <summary>
/// A contract call reverted. Carries the custom error's name (e.g. <c>ExceedsDeposit</c>) and its decoded
/// arguments so that callers can show the named error, never a generic failure.
/// </summary>
public sealed class ChainRevertException : Exception
{
    public ChainRevertException(string errorName, IReadOnlyList<ChainErrorArgument> arguments, string? revertData, string? transactionHash, object? error, Exception? innerException = null)
        : base(Describe(errorName, arguments, transactionHash), innerException)
    {
        ErrorName = errorName;
        Arguments = arguments;
        RevertData = revertData;
        TransactionHash = transactionHash;
        Error = error;
    }

    /// <summary>The error's name as declared in Solidity (<c>StaleVoucher</c>), <c>Error</c> for a revert string,
    /// <c>Panic</c> for a failed assertion or overflow, <c>Revert</c> when the node returned no data, or
    /// <c>Unknown(0x…)</c> for a selector no known contract declares.</summary>
    public string ErrorName { get; }

    /// <summary>The error's arguments in declaration order.</summary>
    public IReadOnlyList<ChainErrorArgument> Arguments { get; }

    /// <summary>The raw revert data (selector and ABI-encoded arguments), when the node returned it.</summary>
    public string? RevertData { get; }

    /// <summary>Set when the revert happened in a mined transaction rather than at gas estimation.</summary>
    public string? TransactionHash { get; }

    /// <summary>The error decoded into its typed DTO (e.g. <c>ExceedsDepositError</c>), when it is one of ours.</summary>
    public object? Error { get; }

    public bool Is<TError>() where TError : class => Error is TError;

    public object? this[string argumentName] => Arguments.FirstOrDefault(a => a.Name == argumentName)?.Value;

    private static string Describe(string errorName, IReadOnlyList<ChainErrorArgument> arguments, string? transactionHash)
    {
        var args = string.Join(", ", arguments.Select(a => $"{a.Name}={a.Value}"));
        var where = transactionHash is null ? "" : $" in transaction {transactionHash}";
        return $"Contract reverted with {errorName}({args}){where}";
    }
}

/// <summary>One decoded argument of a custom error.</summary>
public sealed record ChainErrorArgument(string Name, string Type, object? Value);
