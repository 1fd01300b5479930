using System.Text.Json;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// A lease request the host cannot check against the chain (the node answers only errors) is refused with 503
/// ChainUnavailable and reserves nothing; once the node answers again, the same request goes through. On the fault
/// market, whose node the test can break.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ChainUnavailableTests(MarketFixture market)
{
    [Fact]
    public async Task A_lease_request_while_the_chain_cannot_say_what_the_tenant_holds_is_503_and_reserves_nothing()
    {
        var tenant = market.Wallets[0];
        var before = await market.FreeSlotsAsync("neuron-cloud/inf2-use1");
        string[] create = ["lease", "create", "--kind", "inferentia2", "--hours", "1", "--tenant", tenant.Name, "--json"];

        market.Rpc.Fault = RpcFault.Errors;
        OccResult refused;
        try
        {
            refused = await market.OccAsync(create);
        }
        finally
        {
            market.Rpc.Fault = RpcFault.None;
        }

        Assert.Equal(1, refused.ExitCode);
        var error = JsonDocument.Parse(refused.Error).RootElement;
        Assert.Equal((503, "ChainUnavailable"), (error.GetProperty("status").GetInt32(), error.GetProperty("reason").GetString()));
        Assert.Equal(before, await market.FreeSlotsAsync("neuron-cloud/inf2-use1"));

        // The RPC pipeline's breaker lets a probe through within seconds of the node answering again.
        var created = await Eventually.WaitForAsync(() => market.OccAsync(create), r => r.ExitCode == 0, TimeSpan.FromSeconds(30));
        var lease = created.Json.GetProperty("lease").GetProperty("id").GetString()!;
        Assert.Equal(0, (await market.OccAsync("lease", "end", lease, "--tenant", tenant.Name)).ExitCode);
    }
}
