namespace OrleansCompute.Abstractions.Market;

/// <summary>How a lease's bill is counted when it ends.</summary>
public enum LeaseBillingMode
{
    /// <summary>The time used: price per slot-hour × slots × hours used (pro rata, at least the minimum billed).</summary>
    Hours,

    /// <summary>
    /// The tokens its inference used, at the pool's price per 1M tokens (the slot-hour price over the accelerator's
    /// reference throughput). The deposit is the same as for hours: what the slots could make in the window.
    /// </summary>
    Tokens,
}
