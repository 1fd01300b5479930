using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Chain.Devnet;

namespace OrleansCompute.Host.Devnet;

/// <summary>
/// The devnet's demo providers: AWS Trainium2/Inferentia2 capacity, NVIDIA H100/H200 and AMD MI300X pools,
/// priced a little under list, paid out to Anvil's provider dev accounts. Seeded at every start, each only while it
/// is not defined yet: a pool its provider has changed since (more slots, another floor) keeps the change.
/// </summary>
public sealed class DemoMarket(IGrainFactory grains, DemoMarketSeeding seeding, ILogger<DemoMarket> logger) : BackgroundService
{
    public static IReadOnlyList<PoolDefinition> Pools { get; } = Build();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var seeded = 0;
        foreach (var pool in Pools)
        {
            var grain = grains.GetGrain<IPoolGrain>(pool.PoolKey);
            if ((await grain.GetAsync()).Definition is not null) continue;
            try
            {
                await grain.DefineAsync(pool);
                seeded++;
            }
            catch (MarketException refused)
            {
                // Another host of the cluster may have seeded it a moment ago, or a provider defined it its own way: the
                // market goes on with the pool as it is, rather than the host stopping over a demo.
                logger.LogWarning("Demo pool {Pool} not seeded: {Reason}", pool.PoolKey, refused.Message);
            }
        }
        logger.LogInformation("Seeded {Count} of {Total} demo pools (the others were defined before)", seeded, Pools.Count);
        seeding.MarkDone();
    }

    private static List<PoolDefinition> Build()
    {
        var providers = DevAccounts.Providers;
        var (neuron, gpuHub, helios) = (providers[0].Address, providers[1].Address, providers[2].Address);
        return
        [
            new("neuron-cloud", "trn2-use1", "trainium2", "us-east-1", 16, Credits.FromCredits(2.60m), neuron),
            new("neuron-cloud", "inf2-use1", "inferentia2", "us-east-1", 12, Credits.FromCredits(0.95m), neuron),
            new("neuron-cloud", "trn2-usw2", "trainium2", "us-west-2", 4, Credits.FromCredits(2.75m), neuron),
            new("gpu-hub", "h100-euw1", "h100", "eu-west-1", 8, Credits.FromCredits(2.85m), gpuHub),
            new("gpu-hub", "h200-euw1", "h200", "eu-west-1", 4, Credits.FromCredits(3.65m), gpuHub),
            new("helios", "mi300x-usw2", "mi300x", "us-west-2", 8, Credits.FromCredits(2.30m), helios),
        ];
    }
}
