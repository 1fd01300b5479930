using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Inference;
using OrleansCompute.Host.Gateway;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>The gateway's meters against a lease grain that fails: inference that ran is billed once, or said to be lost.</summary>
public sealed class LeaseMetersTests
{
    private readonly FakeLogger<LeaseMeters> _log = new();
    private readonly Guid _leaseId = Guid.NewGuid();

    [Fact]
    public async Task Records_whose_usage_write_failed_are_sent_again_with_those_that_came_meanwhile_and_each_is_stored_once_in_order()
    {
        var (lease, fake) = FlakyLeaseGrain.Create(new SiloUnavailableException("The lease's silo could not be reached."),
            new InvalidOperationException("The storage write failed."));
        var meters = new LeaseMeters(_log);

        // The first is in flight when the others finish: they wait for it, and go with it when it is sent again.
        var recorded = Enumerable.Range(1, 3).Select(i => meters.RecordAsync(_leaseId, lease, Usage(i), i)).ToList();
        await Task.WhenAll(recorded).WaitAsync(TimeSpan.FromSeconds(10));
        // One that comes after the retries is recorded as usual.
        await meters.RecordAsync(_leaseId, lease, Usage(4), 4).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(Enumerable.Range(1, 4).Select(i => new InferenceRecord(Usage(i), i)), fake.Stored);
        Assert.Equal([1, 3, 3, 1], fake.Calls.Select(c => c.Count));
        Assert.DoesNotContain(_log.Collector.GetSnapshot(), e => e.Level >= LogLevel.Warning);
    }

    public static TheoryData<Exception> FailuresNotSentAgain =>
    [
        // The lease's own answer, which no retry changes.
        new MarketException(MarketError.NotFound, "UnknownLease", "No lease."),
        // The lease may have stored them after all: sent again, they could be billed twice.
        new TimeoutException("The lease's silo did not answer in time."),
    ];

    [Theory]
    [MemberData(nameof(FailuresNotSentAgain))]
    public async Task Records_the_lease_refuses_or_may_have_stored_are_given_up_at_once_with_a_warning_and_the_next_are_stored(Exception failure)
    {
        var (lease, fake) = FlakyLeaseGrain.Create(failure);
        var meters = new LeaseMeters(_log);

        await meters.RecordAsync(_leaseId, lease, Usage(1), 1).WaitAsync(TimeSpan.FromSeconds(10));
        await meters.RecordAsync(_leaseId, lease, Usage(2), 2).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(2, fake.Calls.Count);
        Assert.Equal([new InferenceRecord(Usage(2), 2)], fake.Stored);
        var warning = Assert.Single(_log.Collector.GetSnapshot(), e => e.Level == LogLevel.Warning);
        Assert.Contains("Gave up recording 1 inference request(s)", warning.Message);
    }

    [Fact]
    public async Task Records_the_lease_never_stores_are_given_up_after_the_last_attempt_with_a_warning()
    {
        var (lease, fake) = FlakyLeaseGrain.Create();
        fake.FailsForever = true;
        var meters = new LeaseMeters(_log);

        await meters.RecordAsync(_leaseId, lease, Usage(1), 1).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(LeaseMeters.MostAttempts, fake.Calls.Count);
        Assert.Empty(fake.Stored);
        var warning = Assert.Single(_log.Collector.GetSnapshot(), e => e.Level == LogLevel.Warning);
        Assert.Contains($"after {LeaseMeters.MostAttempts} attempt(s)", warning.Message);
    }

    private static InferenceUsage Usage(int request) => new(10 * request, request);
}
