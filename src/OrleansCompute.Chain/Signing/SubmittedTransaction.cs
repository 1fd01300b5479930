using System.Numerics;

namespace OrleansCompute.Chain.Signing;

/// <summary>A signed transaction the node has accepted into its pool; <see cref="To"/> is null for a contract creation.</summary>
public sealed record SubmittedTransaction(string Hash, BigInteger Nonce, string? To, string Data, BigInteger Value, BigInteger Gas);
