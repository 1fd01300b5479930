using System.Diagnostics;
using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>The user's path with occ: lease, fund from the wallet, end, see the money move on chain.</summary>
[Collection(MarketCollection.Name)]
public sealed class LeasePathTests(MarketFixture market)
{
    [Fact]
    public async Task Lease_is_funded_from_the_tenant_wallet_then_ended_settled_and_the_rest_refunded_on_chain()
    {
        var tenant = market.Wallets[0];
        var tenantBefore = await market.TenantHoldsAsync(tenant.Address);

        var created = await market.OccAsync("lease", "create", "--kind", "trainium2", "--slots", "1", "--hours", "1", "--tenant", tenant.Name, "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var lease = created.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal(LeaseStatus.Active, lease.Status);
        Assert.Equal("neuron-cloud/trn2-use1", lease.PoolKey);
        Assert.Equal(Credits.FromCredits(2.60m), lease.Deposit);

        var escrow = await market.OnChainAsync(lease.Id);
        Assert.NotNull(escrow);
        Assert.Equal(lease.Deposit, escrow.Deposit);
        Assert.Equal(tenant.Address, escrow.Tenant, ignoreCase: true);
        Assert.Equal(lease.ProviderAddress, escrow.Provider, ignoreCase: true);
        Assert.False(escrow.Closed);
        await market.AssertConservedAsync();

        var inspected = await market.OccAsync("inspect", "lease", LeaseIds.Format(lease.Id));
        Assert.True(inspected.ExitCode == 0, inspected.ToString());
        Assert.Equal("Active", inspected.Json.GetProperty("status").GetString());
        // Running, it shows its bill so far: at least the minute every started lease pays, at 2.60 an hour.
        Assert.Matches(@"owed so far\s+0\.04\d+", (await market.OccAsync("lease", "show", LeaseIds.Format(lease.Id))).Output);
        // And so does its JSON, for scripts: the host's answer, and the CLI's.
        Assert.Matches(@"^0\.04\d+$", inspected.Json.GetProperty("owedSoFar").GetString());
        Assert.Matches(@"^0\.04\d+$", (await market.OccAsync("lease", "show", LeaseIds.Format(lease.Id), "--json")).Json.GetProperty("owedSoFar").GetString());

        var providerBefore = await market.Escrow.GetProviderBalanceAsync(lease.ProviderAddress!);
        var ended = await market.OccAsync("lease", "end", LeaseIds.Format(lease.Id), "--tenant", tenant.Name, "--json");
        Assert.True(ended.ExitCode == 0, ended.ToString());
        var settled = ended.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal(LeaseStatus.Settled, settled.Status);
        Assert.True(settled.AmountOwed > Credits.Zero && settled.AmountOwed < lease.Deposit);
        Assert.Equal(settled.AmountOwed, settled.Paid);
        Assert.Equal(lease.Deposit - settled.AmountOwed, settled.Refunded);
        Assert.Equal(JsonValueKind.Null, ended.Json.GetProperty("owedSoFar").ValueKind);

        // What the chain says, independently of the grains.
        var closed = await market.OnChainAsync(lease.Id);
        Assert.True(closed!.Closed);
        Assert.Equal(settled.AmountOwed, closed.Paid);
        Assert.Equal(providerBefore + settled.AmountOwed, await market.Escrow.GetProviderBalanceAsync(lease.ProviderAddress!));
        Assert.Equal(tenantBefore - settled.AmountOwed, await market.TenantHoldsAsync(tenant.Address));
        var shownSettled = (await market.OccAsync("lease", "show", LeaseIds.Format(lease.Id))).Output;
        Assert.Contains("escrow balance", shownSettled);
        Assert.Matches(@"escrow holds\s+nothing: closed on chain", shownSettled);
        Assert.DoesNotContain("owed so far", shownSettled);
        // Its settlement history: the payment the chain made, with its transaction, before the close.
        Assert.Contains(LeaseReasons.PaidOnChain, shownSettled);
        var payment = Assert.Single(settled.History, t => t.Reason == LeaseReasons.PaidOnChain);
        Assert.Contains(settled.SettlementTransaction!, payment.Detail);
        Assert.Contains($"paid {settled.AmountOwed} in all", payment.Detail);
        await market.AssertConservedAsync();

        // And what a second, independent client (cast) reads from the contract.
        var castBalance = await CastCallAsync(market.Devnet.EscrowAddress, "providerBalance(address)(uint256)", lease.ProviderAddress!);
        Assert.StartsWith((providerBefore + settled.AmountOwed).Units.ToString(), castBalance);
    }

    [Fact]
    public async Task Two_leases_at_one_provider_ended_by_one_occ_lease_end_settle_from_one_signed_bundle_in_one_transaction()
    {
        var tenant = market.Wallets[2];
        var tenantBefore = await market.TenantHoldsAsync(tenant.Address);
        var created = new List<LeaseSnapshot>();
        for (var i = 0; i < 2; i++)
        {
            var lease = await market.OccAsync("lease", "create", "--kind", "inferentia2", "--hours", "2", "--tenant", tenant.Name, "--json");
            Assert.True(lease.ExitCode == 0, lease.ToString());
            created.Add(lease.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!);
        }
        var provider = created[0].ProviderAddress!;
        Assert.Equal(provider, created[1].ProviderAddress);
        var providerBefore = await market.Escrow.GetProviderBalanceAsync(provider);

        var ended = await market.OccAsync("lease", "end", LeaseIds.Format(created[0].Id), LeaseIds.Format(created[1].Id), "--tenant", tenant.Name, "--json");

        Assert.True(ended.ExitCode == 0, ended.ToString());
        var settled = ended.Json.Deserialize<List<LeaseSnapshot>>(ApiJson.Options)!;
        Assert.Equal(created.Select(l => l.Id), settled.Select(l => l.Id));
        Assert.All(settled, l => Assert.Equal(LeaseStatus.Settled, l.Status));
        Assert.All(settled, l => Assert.True(l.AmountOwed > Credits.Zero && l.Paid == l.AmountOwed, $"{l.Paid} paid of {l.AmountOwed}"));
        var owed = settled[0].AmountOwed + settled[1].AmountOwed;

        // The chain, independently of the grains: both closed, the provider paid both, the rest in the tenant's escrow balance.
        foreach (var lease in settled)
        {
            var onChain = await market.OnChainAsync(lease.Id);
            Assert.True(onChain is { Closed: true } && onChain.Paid == lease.AmountOwed);
        }
        Assert.Equal(providerBefore + owed, await market.Escrow.GetProviderBalanceAsync(provider));
        Assert.Equal(tenantBefore - owed, await market.TenantHoldsAsync(tenant.Address));
        await market.AssertConservedAsync();

        // One signature over both final vouchers, sent in one settleBatch.
        var vouchers = settled.Select(l => l.FinalVoucher!).ToList();
        Assert.NotNull(vouchers[0].Bundle);
        Assert.Equal((vouchers[0].Signature, vouchers[0].Bundle), (vouchers[1].Signature, vouchers[1].Bundle));
        var inspected = await market.OccAsync("inspect", "settlement", provider);
        Assert.True(inspected.ExitCode == 0, inspected.ToString());
        var items = inspected.Json.GetProperty("items").Deserialize<List<SettlementItem>>(ApiJson.Options)!
            .Where(i => created.Any(l => l.Id == i.Voucher.LeaseId)).ToList();
        Assert.Equal(2, items.Count);
        Assert.NotNull(items[0].TransactionHash);
        Assert.Equal(items[0].TransactionHash, items[1].TransactionHash);
        Assert.All(settled, l => Assert.Equal(items[0].TransactionHash, l.SettlementTransaction, ignoreCase: true));
        // The provider's id, as offers name it, leads to the same queue as its payout address.
        var byId = await market.OccAsync("inspect", "settlement", created[0].ProviderId!);
        Assert.True(byId.ExitCode == 0, byId.ToString());
        var itemsById = byId.Json.GetProperty("items").Deserialize<List<SettlementItem>>(ApiJson.Options)!
            .Where(i => created.Any(l => l.Id == i.Voucher.LeaseId)).ToList();
        Assert.Equal(items.Select(i => (i.Voucher, i.TransactionHash)), itemsById.Select(i => (i.Voucher, i.TransactionHash)));
    }

    [Fact]
    public async Task Ending_leases_at_two_providers_signs_a_bundle_per_signer_and_provider_and_a_lone_lease_on_its_own()
    {
        var tenant = market.Wallets[0];
        async Task<Guid> CreateAsync(params string[] args)
        {
            var created = await market.OccAsync(["lease", "create", .. args, "--hours", "1", "--tenant", tenant.Name, "--json"]);
            Assert.True(created.ExitCode == 0, created.ToString());
            return created.Json.GetProperty("lease").GetProperty("id").GetGuid();
        }
        Guid[] ids =
        [
            await CreateAsync("--kind", "inferentia2"),
            await CreateAsync("--kind", "inferentia2"),
            await CreateAsync("--kind", "inferentia2", "--session-key"),
            await CreateAsync("--kind", "h100"),
        ];

        var ended = await market.OccAsync(["lease", "end", .. ids.Select(LeaseIds.Format), "--tenant", tenant.Name, "--json"]);

        Assert.True(ended.ExitCode == 0, ended.ToString());
        var settled = ended.Json.Deserialize<List<LeaseSnapshot>>(ApiJson.Options)!;
        Assert.All(settled, l => Assert.Equal(LeaseStatus.Settled, l.Status));
        var vouchers = settled.Select(l => l.FinalVoucher!).ToList();
        // The tenant's two leases at neuron-cloud share a bundle; the session key's lease and the lease at gpu-hub are alone.
        Assert.NotNull(vouchers[0].Bundle);
        Assert.Equal((vouchers[0].Signature, vouchers[0].Bundle), (vouchers[1].Signature, vouchers[1].Bundle));
        Assert.Null(vouchers[2].Bundle);
        Assert.Null(vouchers[3].Bundle);
        Assert.NotNull(settled[2].VoucherSigner);
        await market.AssertConservedAsync();
    }

    [Fact]
    public async Task Ending_several_leases_reports_each_one_refused_and_ends_the_others()
    {
        var (owner, stranger) = (market.Wallets[1], market.Wallets[3]);
        var mine = await market.OccAsync("lease", "create", "--kind", "inferentia2", "--hours", "1", "--tenant", owner.Name, "--json");
        var theirs = await market.OccAsync("lease", "create", "--kind", "inferentia2", "--hours", "1", "--tenant", stranger.Name, "--json");
        Assert.True(mine.ExitCode == 0 && theirs.ExitCode == 0, mine.ToString() + theirs);
        var (mineId, theirsId) = (mine.Json.GetProperty("lease").GetProperty("id").GetGuid(), theirs.Json.GetProperty("lease").GetProperty("id").GetGuid());

        var ended = await market.OccAsync("lease", "end", LeaseIds.Format(mineId), LeaseIds.Format(theirsId), "--tenant", owner.Name, "--json");

        Assert.Equal(1, ended.ExitCode);
        Assert.Contains($"Lease {LeaseIds.Format(theirsId)}: NotYourLease", ended.Error);
        Assert.Equal([mineId], ended.Json.Deserialize<List<LeaseSnapshot>>(ApiJson.Options)!.Select(l => l.Id));
        Assert.Equal(LeaseStatus.Settled, (await market.Api.GetLeaseAsync(LeaseIds.Format(mineId), default)).Status);
        Assert.Equal(LeaseStatus.Active, (await market.Api.GetLeaseAsync(LeaseIds.Format(theirsId), default)).Status);
        // One lease of several refused: the error carries its status and reason, as one lease's refusal does.
        var refusal = JsonDocument.Parse(ended.Error).RootElement;
        Assert.Equal((403, "NotYourLease"), (refusal.GetProperty("status").GetInt32(), refusal.GetProperty("reason").GetString()));
        Assert.Equal(LeaseIds.Format(theirsId), refusal.GetProperty("leases").EnumerateArray().Single().GetProperty("id").GetString());

        // Several refused, each for its own reason: a script reads them per lease.
        var again = await market.OccAsync("lease", "end", LeaseIds.Format(mineId), LeaseIds.Format(theirsId), "--tenant", owner.Name, "--json");

        Assert.Equal(1, again.ExitCode);
        var refusals = JsonDocument.Parse(again.Error).RootElement;
        Assert.False(refusals.TryGetProperty("reason", out _));
        Assert.Equal(
            [(LeaseIds.Format(mineId), 409, "LeaseNotActive"), (LeaseIds.Format(theirsId), 403, "NotYourLease")],
            refusals.GetProperty("leases").EnumerateArray()
                .Select(l => (l.GetProperty("id").GetString(), l.GetProperty("status").GetInt32(), l.GetProperty("reason").GetString())).OrderBy(l => l.Item1 != LeaseIds.Format(mineId)));
        Assert.Equal(0, (await market.OccAsync("lease", "end", LeaseIds.Format(theirsId), "--tenant", stranger.Name)).ExitCode);
    }

    [Fact]
    public async Task Ending_several_leases_with_a_mistyped_id_ends_none_and_one_lease_written_two_ways_ends_once()
    {
        var tenant = market.Wallets[1];
        var created = await market.OccAsync("lease", "create", "--kind", "inferentia2", "--hours", "1", "--tenant", tenant.Name, "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var leaseId = created.Json.GetProperty("lease").GetProperty("id").GetGuid();

        var mistyped = await market.OccAsync("lease", "end", LeaseIds.Format(leaseId), "not-a-lease", "--tenant", tenant.Name);

        Assert.Equal(1, mistyped.ExitCode);
        Assert.Contains("'not-a-lease' is not a lease id", mistyped.Error);
        Assert.Equal(LeaseStatus.Active, (await market.Api.GetLeaseAsync(LeaseIds.Format(leaseId), default)).Status);

        // The id as occ prints it and as the API's JSON has it, dashes and all.
        var twice = await market.OccAsync("lease", "end", LeaseIds.Format(leaseId), leaseId.ToString("D").ToUpperInvariant(), "--tenant", tenant.Name, "--json");

        Assert.True(twice.ExitCode == 0, twice.ToString());
        Assert.DoesNotContain("Unhandled exception", twice.Error);
        Assert.Equal(LeaseStatus.Settled, twice.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!.Status);
    }

    [Fact]
    public async Task The_refund_of_an_ended_lease_waits_in_the_tenants_escrow_balance_funds_its_next_lease_and_can_be_withdrawn()
    {
        var tenant = market.Wallets[3];
        var first = await market.OccAsync("lease", "create", "--kind", "inferentia2", "--hours", "1", "--tenant", tenant.Name, "--json");
        Assert.True(first.ExitCode == 0, first.ToString());
        var ended = await market.OccAsync("lease", "end", LeaseIds.Format(first.Json.GetProperty("lease").GetProperty("id").GetGuid()), "--tenant", tenant.Name, "--json");
        Assert.True(ended.ExitCode == 0, ended.ToString());
        var refunded = ended.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!.Refunded;
        Assert.True(refunded > Credits.Zero);

        var shown = await market.OccAsync("balance", "--tenant", tenant.Name, "--json");
        Assert.True(shown.ExitCode == 0, shown.ToString());
        var inEscrow = shown.Json.GetProperty("escrowBalance").Deserialize<Credits>(ApiJson.Options);
        Assert.True(inEscrow >= refunded, $"{inEscrow} in the escrow balance, {refunded} refunded");

        // The next lease draws on the balance before the wallet.
        var wallet = await market.Escrow.Credit.BalanceOfAsync(tenant.Address);
        var second = await market.OccAsync("lease", "create", "--kind", "inferentia2", "--hours", "1", "--tenant", tenant.Name, "--json");
        Assert.True(second.ExitCode == 0, second.ToString());
        var deposit = second.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!.Deposit;
        var drawn = deposit <= inEscrow ? deposit : inEscrow;
        Assert.Equal(inEscrow - drawn, await market.Escrow.GetTenantBalanceAsync(tenant.Address));
        Assert.Equal(wallet - (deposit - drawn), await market.Escrow.Credit.BalanceOfAsync(tenant.Address));
        var secondEnded = await market.OccAsync("lease", "end", LeaseIds.Format(second.Json.GetProperty("lease").GetProperty("id").GetGuid()), "--tenant", tenant.Name);
        Assert.True(secondEnded.ExitCode == 0, secondEnded.ToString());

        var holds = await market.TenantHoldsAsync(tenant.Address);
        var withdrawn = await market.OccAsync("balance", "withdraw", "--tenant", tenant.Name);
        Assert.True(withdrawn.ExitCode == 0, withdrawn.ToString());
        Assert.Equal(Credits.Zero, await market.Escrow.GetTenantBalanceAsync(tenant.Address));
        Assert.Equal(holds, await market.Escrow.Credit.BalanceOfAsync(tenant.Address));
        var again = await market.OccAsync("balance", "withdraw", "--tenant", tenant.Name);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("nothing in the escrow", again.Error);
        await market.AssertConservedAsync();
    }

    [Fact]
    public async Task An_escrow_someone_else_opens_under_a_leases_id_first_neither_blocks_nor_fails_the_tenants_funding()
    {
        var (tenant, copycat) = (market.Wallets[2], market.Wallets[0]);
        var reserved = await market.Api.CreateLeaseAsync(new Abstractions.Market.LeaseRequest("h100", 1, 1), tenant.PrivateKey, default);
        var rpc = new OrleansCompute.Chain.Rpc.ChainRpc(market.Devnet.RpcUrl);
        using var copycatSender = new OrleansCompute.Chain.Signing.TransactionSender(rpc, copycat.PrivateKey, market.Devnet.ChainId);
        using var tenantSender = new OrleansCompute.Chain.Signing.TransactionSender(rpc, tenant.PrivateKey, market.Devnet.ChainId);

        var copied = await market.Escrow.OpenLeaseAsync(copycatSender, reserved.Id, reserved.ProviderAddress!, Credits.FromUnits(1), reserved.EscrowExpiry!.Value);
        await market.Escrow.OpenLeaseAsync(tenantSender, reserved.Id, reserved.ProviderAddress!, reserved.Deposit, reserved.EscrowExpiry!.Value);

        var active = await Eventually.WaitForAsync(() => market.Api.GetLeaseAsync(LeaseIds.Format(reserved.Id), default), l => l.Status != LeaseStatus.Reserved);
        Assert.Equal(LeaseStatus.Active, active.Status);
        Assert.Equal(reserved.Deposit, (await market.OnChainAsync(reserved.Id))!.Deposit);
        Assert.Equal(Credits.FromUnits(1), (await market.Escrow.GetLeaseAsync(reserved.Id, copycat.Address, copied.Channel))!.Deposit);
    }

    [Fact]
    public async Task A_tenant_leaving_on_chain_with_its_own_final_voucher_ends_the_lease_and_frees_its_slots()
    {
        var tenant = market.Wallets[3];
        var created = await market.OccAsync("lease", "create", "--kind", "inferentia2", "--hours", "1", "--tenant", tenant.Name, "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var lease = created.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        var id = LeaseIds.Format(lease.Id);
        var freeBefore = await market.FreeSlotsAsync(lease.PoolKey!);

        // Too early to take the escrow back: the lease has not expired, and the claim window follows its expiry.
        var early = await market.OccAsync("lease", "refund", id, "--tenant", tenant.Name);
        Assert.Equal(1, early.ExitCode);
        Assert.Contains("is refundable after", early.Error);

        // Without the market: occ signs the tenant's final voucher and sends it to the escrow from the tenant's wallet.
        // More than the market's bill (a minute at 0.95 an hour): the tenant's count is what the escrow pays.
        var left = await market.OccAsync("lease", "leave", id, "--amount", "0.10", "--tenant", tenant.Name, "--json");
        Assert.True(left.ExitCode == 0, left.ToString());
        var transaction = left.Json.GetProperty("transaction").GetString()!;

        // The escrow is closing, not closed: paid what the tenant signed, expiring now, the rest refundable after the claim window.
        var onChain = (await market.OnChainAsync(lease.Id))!;
        Assert.False(onChain.Closed);
        Assert.Equal(Credits.FromCredits(0.10m), onChain.Paid);
        Assert.True(onChain.Expiry <= DateTimeOffset.UtcNow.AddSeconds(5) && onChain.Expiry < lease.EscrowExpiry);
        var again = await market.OccAsync("lease", "leave", id, "--amount", "0.10", "--tenant", tenant.Name);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("StaleVoucher", again.Error);

        // The market sees it from the chain: the lease ends there, its slot is free again, and the payment is counted.
        var ended = await Eventually.WaitForAsync(() => market.Api.GetLeaseAsync(id, default),
            l => l.Status == LeaseStatus.Ended && l.Paid == Credits.FromCredits(0.10m));
        var closing = ended.History.Last(t => t.Reason == LeaseReasons.ClosingOnChain);
        Assert.Contains(transaction, closing.Detail);
        Assert.Contains("refundable after", closing.Detail);
        Assert.Equal(freeBefore + 1, await market.FreeSlotsAsync(lease.PoolKey!));
        Assert.True(ended.AmountOwed < ended.Paid);
        Assert.Equal(ended.Paid, ended.VoucherToSign!.Amount);

        // Through the market after all: its final voucher closes the escrow at what the tenant paid, not below it.
        var closed = await market.OccAsync("lease", "end", id, "--tenant", tenant.Name, "--json");
        Assert.True(closed.ExitCode == 0, closed.ToString());
        var settled = closed.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal((LeaseStatus.Settled, Credits.FromCredits(0.10m), lease.Deposit - Credits.FromCredits(0.10m)), (settled.Status, settled.Paid, settled.Refunded));
        Assert.True((await market.OnChainAsync(lease.Id))!.Closed);
        await market.AssertConservedAsync();
    }

    [Fact]
    public async Task Ending_someone_elses_lease_is_forbidden_and_changes_nothing()
    {
        var (owner, stranger) = (market.Wallets[1], market.Wallets[2]);
        var created = await market.OccAsync("lease", "create", "--kind", "inferentia2", "--hours", "2", "--tenant", owner.Name, "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var leaseId = created.Json.GetProperty("lease").GetProperty("id").GetGuid();

        var refused = await market.OccAsync("lease", "end", LeaseIds.Format(leaseId), "--tenant", stranger.Name);

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("NotYourLease", refused.Error);
        Assert.Equal(LeaseStatus.Active, (await market.Api.GetLeaseAsync(LeaseIds.Format(leaseId), default)).Status);
        Assert.False((await market.OnChainAsync(leaseId))!.Closed);

        var ended = await market.OccAsync("lease", "end", LeaseIds.Format(leaseId), "--tenant", owner.Name);
        Assert.True(ended.ExitCode == 0, ended.ToString());
    }

    [Theory]
    [InlineData("--kind", "h100")]
    [InlineData("--kind", "h100", "--slots", "2", "--min-slots", "1")]
    [InlineData("--kind", "any", "--min-memory", "80")]
    public async Task A_tenant_without_funds_is_refused_by_the_host_and_nothing_is_reserved(params string[] request)
    {
        var before = await market.FreeSlotsAsync("gpu-hub/h100-euw1");
        var leasesBefore = (await market.Api.ListLeasesAsync(market.BrokeTenant.PrivateKey, default)).Count;

        var refused = await market.OccAsync(["lease", "create", .. request, "--hours", "1", "--tenant", market.BrokeTenant.Name, "--json"]);

        Assert.Equal(1, refused.ExitCode);
        var error = JsonDocument.Parse(refused.Error).RootElement;
        Assert.Equal((402, "InsufficientFunds", "tenant"),
            (error.GetProperty("status").GetInt32(), error.GetProperty("reason").GetString(), error.GetProperty("field").GetString()));
        Assert.Contains("holds 0.000000 credits", error.GetProperty("error").GetString());
        Assert.Equal(before, await market.FreeSlotsAsync("gpu-hub/h100-euw1"));
        Assert.Equal(leasesBefore, (await market.Api.ListLeasesAsync(market.BrokeTenant.PrivateKey, default)).Count);
    }

    [Fact]
    public async Task A_block_booked_ahead_is_funded_and_waits_and_ending_it_before_its_start_refunds_everything()
    {
        var tenant = market.Wallets[1];
        var before = await market.TenantHoldsAsync(tenant.Address);

        var created = await market.OccAsync("lease", "create", "--kind", "mi300x", "--hours", "2", "--start", "+3h", "--tenant", tenant.Name, "--json");

        Assert.True(created.ExitCode == 0, created.ToString());
        var block = created.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal(LeaseStatus.Funded, block.Status);
        Assert.True(block.StartsAt > DateTimeOffset.UtcNow.AddHours(2.9));
        Assert.Equal(block.Deposit, (await market.OnChainAsync(block.Id))!.Deposit);

        var ended = await market.OccAsync("lease", "end", LeaseIds.Format(block.Id), "--tenant", tenant.Name, "--json");

        Assert.True(ended.ExitCode == 0, ended.ToString());
        var settled = ended.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal((LeaseStatus.Settled, Credits.Zero, block.Deposit), (settled.Status, settled.Paid, settled.Refunded));
        Assert.Equal(before, await market.TenantHoldsAsync(tenant.Address));
        await market.AssertConservedAsync();
    }

    public static TheoryData<string[], string> BadRequests => new()
    {
        { ["--kind", "tpu-v9", "--hours", "1"], "(field: kind)" },
        { ["--kind", "h100", "--slots", "0", "--hours", "1"], "(field: slots)" },
        { ["--kind", "h100", "--slots", "-2", "--hours", "1"], "(field: slots)" },
        { ["--kind", "h100", "--hours", "0"], "(field: hours)" },
        { ["--kind", "h100", "--hours", "-1"], "(field: hours)" },
        { ["--kind", "h100", "--slots", "40", "--hours", "1"], "MoreSlotsThanExist" },
        { ["--kind", "h100", "--hours", "1", "--max-price", "0"], "(field: maxPricePerSlotHour)" },
        { ["--kind", "h100", "--hours", "1", "--max-price", "1.00"], "AboveMaxPrice" },
        { ["--kind", "h100", "--hours", "1", "--max-price", "cheap"], "--max-price" },
        { ["--kind", "h100", "--hours", "1", "--region", "mars-1"], "(field: region)" },
        { ["--kind", "h100", "--hours", "1", "--tenant", "0x1234"], "--tenant" },
        { ["--kind", "h100", "--hours", "1", "--start", "2020-01-01T00:00:00Z"], "(field: start)" },
        { ["--kind", "h100", "--hours", "1", "--start", "tomorrowish"], "--start" },
        { ["--kind", "h100", "--hours", "1", "--start", "+3000000d"], "error: --start: '+3000000d' is past the last time" },
        { ["--kind", "h100", "--hours", "1", "--max-price-per-1m", "0.000001"], "(field: maxPricePerMillionTokens)" },
        // Refused by the parser: one line in the option's terms, and no help text on stdout.
        { ["--kind", "h100", "--hours", "0.001"], "error: --hours: '0.001' is not a whole number" },
        { ["--kind", "h100", "--slots", "1.5", "--hours", "1"], "error: --slots: '1.5' is not a whole number" },
        { ["--kind", "h100", "--slots", "99999999999", "--hours", "1"], "error: --slots: '99999999999' is not a whole number up to 2,147,483,647" },
        { ["--kind", "h100", "--hours", "1", "--bill-by", "bananas"], "error: --bill-by: 'bananas' is not one of hours, tokens" },
    };

    [Fact]
    public async Task With_json_a_parse_error_and_a_refusal_are_json_objects_on_stderr()
    {
        var parse = await market.OccAsync("lease", "create", "--kind", "h100", "--hours", "1.5", "--json");
        var refused = await market.OccAsync("lease", "create", "--kind", "tpu-v9", "--hours", "1", "--tenant", market.Wallets[3].Name, "--json");

        Assert.Equal((1, ""), (parse.ExitCode, parse.Output));
        var parseError = JsonDocument.Parse(parse.Error).RootElement;
        Assert.Equal("ParseError", parseError.GetProperty("reason").GetString());
        Assert.Contains("--hours: '1.5' is not a whole number", parseError.GetProperty("error").GetString());
        Assert.Equal(1, refused.ExitCode);
        var refusal = JsonDocument.Parse(refused.Error).RootElement;
        Assert.Equal((400, "UnknownKind", "kind"),
            (refusal.GetProperty("status").GetInt32(), refusal.GetProperty("reason").GetString(), refusal.GetProperty("field").GetString()));
    }

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task A_bad_lease_request_is_refused_naming_the_field_and_reserves_nothing(string[] args, string expected)
    {
        var tenant = market.Wallets[3];
        var freeBefore = await market.FreeSlotsAsync("gpu-hub/h100-euw1");
        var leasesBefore = (await market.Api.ListLeasesAsync(tenant.PrivateKey, default)).Count;
        var balanceBefore = await market.TenantHoldsAsync(tenant.Address);
        string[] withTenant = args.Contains("--tenant") ? args : [.. args, "--tenant", tenant.Name];

        var refused = await market.OccAsync(["lease", "create", .. withTenant]);

        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains(expected, refused.Error);
        Assert.Equal("", refused.Output);
        Assert.Equal(freeBefore, await market.FreeSlotsAsync("gpu-hub/h100-euw1"));
        Assert.Equal(leasesBefore, (await market.Api.ListLeasesAsync(tenant.PrivateKey, default)).Count);
        Assert.Equal(balanceBefore, await market.TenantHoldsAsync(tenant.Address));
    }

    [Theory]
    [InlineData("quote")]
    [InlineData("order", "place")]
    public async Task A_start_past_the_last_time_there_is_is_refused_naming_the_option_by_every_command_that_takes_it(params string[] command)
    {
        var tenant = market.Wallets[3];
        var ordersBefore = (await market.Api.ListOrdersAsync(tenant.PrivateKey, default)).Count;

        string[] forTenant = command[0] == "order" ? ["--tenant", tenant.Name] : [];

        var refused = await market.OccAsync([.. command, "--kind", "h100", "--hours", "1", "--start", "+3000000d", .. forTenant]);

        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.StartsWith("error: --start: '+3000000d'", refused.Error);
        Assert.DoesNotContain("exception", refused.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(ordersBefore, (await market.Api.ListOrdersAsync(tenant.PrivateKey, default)).Count);
    }

    private async Task<string> CastCallAsync(string contract, string signature, params string[] args)
    {
        var start = new ProcessStartInfo(market.Toolchain.CastPath) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["call", contract, signature, .. args, "--rpc-url", market.Devnet.RpcUrl]) start.ArgumentList.Add(arg);
        using var cast = Process.Start(start)!;
        var output = await cast.StandardOutput.ReadToEndAsync();
        await cast.WaitForExitAsync();
        Assert.True(cast.ExitCode == 0, await cast.StandardError.ReadToEndAsync());
        return output.Trim();
    }
}
