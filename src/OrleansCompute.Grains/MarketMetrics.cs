using System.Diagnostics.Metrics;

namespace OrleansCompute.Grains;

/// <summary>
/// The market's own counters (meter <c>OrleansCompute.Market</c>), beside Orleans' and ASP.NET Core's: what a lease
/// operator watches on the host's <c>/metrics</c>.
/// </summary>
public static class MarketMetrics
{
    public const string MeterName = "OrleansCompute.Market";

    private static readonly Meter Meter = new(MeterName);

    public static readonly Counter<long> LeasesReserved = Meter.CreateCounter<long>("occ.leases.reserved", description: "Leases that reserved slots.");
    public static readonly Counter<long> LeasesSettled = Meter.CreateCounter<long>("occ.leases.settled", description: "Leases closed on chain (settled or refunded).");
    public static readonly Counter<long> InferenceRequests = Meter.CreateCounter<long>("occ.inference.requests", description: "Inference requests answered on leases.");
    public static readonly Counter<long> InferenceTokens = Meter.CreateCounter<long>("occ.inference.tokens", unit: "{token}", description: "Prompt and completion tokens metered on leases.");
}
