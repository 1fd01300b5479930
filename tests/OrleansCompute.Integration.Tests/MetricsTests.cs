using OrleansCompute.Abstractions.Market;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>The host's /metrics, as Prometheus scrapes it: the market's counters beside Orleans' own.</summary>
[Collection(MarketCollection.Name)]
public sealed class MetricsTests(MarketFixture market)
{
    [Fact]
    public async Task Metrics_count_reserved_leases_by_kind_beside_Orleans_grain_metrics()
    {
        var tenant = market.Wallets[1];
        var reserved = await market.Api.CreateLeaseAsync(new LeaseRequest("inferentia2", 1, 1), tenant.PrivateKey, default);
        await market.Api.EndLeaseAsync(Abstractions.Leases.LeaseIds.Format(reserved.Id), tenant.PrivateKey, default);

        using var http = new HttpClient { BaseAddress = new Uri(market.Devnet.ApiUrl) };
        // The exporter caches a scrape for a moment; the counter shows once it has been collected after the lease.
        var text = await Eventually.WaitForAsync(() => http.GetStringAsync("/metrics"),
            t => t.Split('\n').Any(line => line.StartsWith("occ_leases_reserved_total{", StringComparison.Ordinal) && line.Contains("kind=\"inferentia2\"")),
            TimeSpan.FromSeconds(15));

        Assert.Contains("# TYPE occ_leases_reserved_total counter", text);
        Assert.Contains("orleans_app_requests_latency_milliseconds_bucket", text);
        Assert.Contains("service_name=\"orleanscompute-host\"", text);
    }
}
