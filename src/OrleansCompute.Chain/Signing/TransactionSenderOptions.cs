using System.Numerics;

namespace OrleansCompute.Chain.Signing;

public sealed record TransactionSenderOptions
{
    /// <summary>How long to wait for a receipt. Nethereum's own wait polls forever; ours gives up and says so.</summary>
    public TimeSpan ReceiptTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan ReceiptPollInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Headroom over eth_estimateGas, because state can change between estimate and inclusion.</summary>
    public int GasMarginPercent { get; init; } = 20;

    public BigInteger MaxPriorityFeePerGas { get; init; } = 1_000_000_000;

    /// <summary>
    /// A transaction not mined after this long is replaced: the same nonce, signed again with fees raised by
    /// <see cref="FeeBumpPercent"/>, so that whichever is mined first settles it and the other cannot. Null never replaces.
    /// </summary>
    public TimeSpan? ReplaceAfter { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How much each replacement raises both fees; nodes take a replacement only above 10%.</summary>
    public int FeeBumpPercent { get; init; } = 25;

    /// <summary>
    /// The most a replacement offers per gas (its max fee), in wei; null sets no ceiling (the devnet's Anvil, whose gas is
    /// free). A stuck transaction's replacements stop rising there: past it, the transaction is only broadcast again as it
    /// is (a node that dropped it gets it back) and waits for the base fee to fall, instead of bidding 25% more every
    /// <see cref="ReplaceAfter"/> for as long as the chain stays dear.
    /// </summary>
    public BigInteger? MaxFeePerGasCeiling { get; init; }
}
