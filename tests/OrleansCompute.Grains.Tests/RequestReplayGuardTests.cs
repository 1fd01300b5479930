using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>A signed write is good once while its timestamp is in the window, whichever silo asks; then it is forgotten.</summary>
[Collection(MarketClusterCollection.Name)]
public sealed class RequestReplayGuardTests(ClusterFixture cluster)
{
    private IRequestReplayGuardGrain Guard(string address) => cluster.Grains.GetGrain<IRequestReplayGuardGrain>(address);

    [Fact]
    public async Task A_request_is_seen_first_once_and_as_a_replay_after_until_its_window_ends()
    {
        var address = TestMarket.NewAddress().ToLowerInvariant();
        var (request, other) = (Guid.NewGuid(), Guid.NewGuid());
        // Long enough that the four sightings below come before it on a slow machine.
        var staleAt = DateTimeOffset.UtcNow.AddSeconds(3);

        Assert.True(await Guard(address).FirstSightAsync(request, staleAt));
        Assert.False(await Guard(address).FirstSightAsync(request, staleAt));
        Assert.True(await Guard(address).FirstSightAsync(other, staleAt));
        // Another key's request with the same digest is not this key's replay.
        Assert.True(await Guard(TestMarket.NewAddress().ToLowerInvariant()).FirstSightAsync(request, staleAt));

        await Task.Delay(staleAt - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(100));
        // Forgotten once stale: the signature check refuses such a request before it asks here.
        Assert.True(await Guard(address).FirstSightAsync(request, DateTimeOffset.UtcNow.AddMinutes(5)));
    }

    [Fact]
    public async Task Concurrent_sightings_of_one_request_let_exactly_one_through()
    {
        var guard = Guard(TestMarket.NewAddress().ToLowerInvariant());
        var request = Guid.NewGuid();

        var firsts = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => guard.FirstSightAsync(request, DateTimeOffset.UtcNow.AddMinutes(5))));

        Assert.Single(firsts, first => first);
    }
}
