using System.Numerics;
using OrleansCompute.Abstractions;

namespace OrleansCompute.Chain;

/// <summary>Credits at the boundary, token base units (BigInteger) on chain: the one place that converts.</summary>
public static class CreditsOnChain
{
    public static BigInteger ToUnits(Credits credits) =>
        credits.Units >= 0 ? new BigInteger(credits.Units) : throw new ArgumentOutOfRangeException(nameof(credits), credits, "An amount on chain cannot be negative.");

    /// <exception cref="OverflowException">The amount does not fit in <see cref="Credits"/> (more than about 9.2 trillion credits).</exception>
    public static Credits FromUnits(BigInteger units) => Credits.FromUnits((long)units);
}
