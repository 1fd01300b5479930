using System.Numerics;

namespace OrleansCompute.Chain.Signing;

/// <summary>A signed transaction the node has accepted into its pool; <see cref="To"/> is null for a contract creation.</summary>
public sealed record SubmittedTransaction(string Hash, BigInteger Nonce, string? To, string Data, BigInteger Value, BigInteger Gas)
{
    /// <summary>The fees it was signed with; a replacement for a stuck transaction offers more.</summary>
    public BigInteger MaxPriorityFeePerGas { get; init; }

    public BigInteger MaxFeePerGas { get; init; }
}
