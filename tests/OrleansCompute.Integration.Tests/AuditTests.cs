using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// occ audit on a market of its own (its own Anvil and host): the test leaves an escrow the market does not know,
/// which would make any other test's audit fail.
/// </summary>
[Collection(AuditCollection.Name)]
public sealed class AuditTests(MarketFixture market)
{
    [Fact]
    public async Task The_audit_agrees_with_the_chain_after_leases_settle_and_names_an_escrow_the_market_never_reserved()
    {
        var tenant = market.Wallets[0];
        var created = await market.OccAsync("lease", "create", "--kind", "h100", "--hours", "1", "--tenant", tenant.Name, "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var leaseId = created.Json.GetProperty("lease").GetProperty("id").GetGuid();
        var ended = await market.OccAsync("lease", "end", LeaseIds.Format(leaseId), "--tenant", tenant.Name);
        Assert.True(ended.ExitCode == 0, ended.ToString());
        var open = await market.OccAsync("lease", "create", "--kind", "trainium2", "--hours", "2", "--tenant", market.Wallets[1].Name, "--json");
        Assert.True(open.ExitCode == 0, open.ToString());

        var clean = await market.OccAsync("audit", "--json");

        Assert.True(clean.ExitCode == 0, clean.ToString());
        Assert.Equal(2, clean.Json.GetProperty("leasesChecked").GetInt32());
        Assert.Empty(clean.Json.GetProperty("mismatches").EnumerateArray());
        Assert.True(clean.Json.GetProperty("clean").GetBoolean());

        // An escrow opened straight from a wallet for a lease id the market never gave out.
        var stray = Guid.NewGuid();
        using var sender = new TransactionSender(new ChainRpc(market.Devnet.RpcUrl), market.Wallets[2].PrivateKey, market.Devnet.ChainId);
        var provider = created.Json.GetProperty("lease").GetProperty("providerAddress").GetString()!;
        await market.Escrow.OpenLeaseAsync(sender, stray, provider, Credits.FromCredits(5m), DateTimeOffset.UtcNow.AddHours(2));

        var dirty = await market.OccAsync("audit");

        Assert.Equal(1, dirty.ExitCode);
        Assert.Contains("1 mismatch", dirty.Error);
        Assert.Contains(LeaseIds.Format(stray), dirty.Output);
        Assert.Contains("never reserved", dirty.Output);

        // Chain time runs past the open lease's expiry and claim window, its escrow neither settled nor refunded: the
        // market still counts it as running, but nothing can pay its provider any more. (This market is the test's own.)
        var openId = open.Json.GetProperty("lease").GetProperty("id").GetGuid();
        var cheats = new AnvilCheats(new ChainRpc(market.Devnet.RpcUrl));
        await cheats.IncreaseTimeAsync(TimeSpan.FromHours(6));
        await cheats.MineAsync();

        var late = await market.OccAsync("audit", "--json");

        Assert.Equal(1, late.ExitCode);
        var unclaimed = Assert.Single(late.Json.GetProperty("mismatches").EnumerateArray(), m => m.GetProperty("field").GetString() == "claimWindow");
        Assert.Equal(LeaseIds.Format(openId), unclaimed.GetProperty("subject").GetString());
        Assert.Contains("no voucher can settle it now", unclaimed.GetProperty("cause").GetString());
    }
}

[CollectionDefinition(Name)]
public sealed class AuditCollection : ICollectionFixture<MarketFixture>
{
    public const string Name = "audit";
}
