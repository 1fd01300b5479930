using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Inference;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Tests.Infrastructure;

namespace OrleansCompute.Grains.Tests;

/// <summary>The lease's side of inference: its key, admission within its slots' concurrency, metering and the token bill.</summary>
[Collection(MarketClusterCollection.Name)]
public sealed class InferenceMeteringTests(ClusterFixture cluster)
{
    private readonly TestMarket _market = new(cluster.Grains);

    [Fact]
    public async Task A_lease_has_a_key_only_while_active_and_only_its_tenant_gets_it()
    {
        var tenant = Tenant.New();
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1);
        var reserved = await _market.RequestAsync(tenant, TestMarket.Request(pool));
        var lease = _market.Lease(reserved.Id);

        var beforeFunding = await Assert.ThrowsAsync<MarketException>(() => lease.GetApiKeyAsync(tenant.Address));
        await _market.FundAsync(reserved, tenant);
        var key = await lease.GetApiKeyAsync(tenant.Address);
        var stranger = await Assert.ThrowsAsync<MarketException>(() => lease.GetApiKeyAsync(Tenant.New().Address));
        Assert.True(LeaseApiKeys.TryParseLeaseId(key, out var keyedLease));
        Assert.Equal(AdmissionOutcome.Admitted, (await lease.AuthorizeInferenceAsync(key)).Outcome);

        await lease.EndAsync(tenant.Address);

        Assert.Equal("LeaseNotActive", beforeFunding.Reason);
        Assert.Equal(MarketError.NotYourLease, stranger.Error);
        Assert.Equal(reserved.Id, keyedLease);
        Assert.Equal(AdmissionOutcome.Unauthorized, (await lease.AuthorizeInferenceAsync(key)).Outcome);
        Assert.Equal(AdmissionOutcome.Unauthorized, (await lease.AdmitInferenceAsync(key)).Outcome);
    }

    [Fact]
    public async Task Admission_stops_at_the_slots_concurrency_and_a_recorded_request_frees_its_place()
    {
        var tenant = Tenant.New();
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 2);
        var active = await _market.FundAsync(await _market.RequestAsync(tenant, TestMarket.Request(pool, slots: 2)), tenant);
        var lease = _market.Lease(active.Id);
        var key = await lease.GetApiKeyAsync(tenant.Address);

        var admitted = new List<InferenceAdmission>();
        for (var i = 0; i < 16; i++) admitted.Add(await lease.AdmitInferenceAsync(key));
        var seventeenth = await lease.AdmitInferenceAsync(key);
        await lease.RecordInferenceAsync(new InferenceUsage(10, 5));
        var afterOneFinished = await lease.AdmitInferenceAsync(key);

        Assert.All(admitted, a => Assert.Equal((AdmissionOutcome.Admitted, 16, "h100"), (a.Outcome, a.Concurrency, a.Kind)));
        Assert.Equal(AdmissionOutcome.Busy, seventeenth.Outcome);
        Assert.True(seventeenth.RetryAfter > TimeSpan.Zero);
        Assert.Equal(AdmissionOutcome.Admitted, afterOneFinished.Outcome);
        Assert.Equal(AdmissionOutcome.Unauthorized, (await lease.AdmitInferenceAsync(key[..^1] + (key[^1] == '0' ? '1' : '0'))).Outcome);
    }

    [Fact]
    public async Task Records_sent_together_meter_each_request_free_each_place_and_release_what_each_held_against_the_escrow()
    {
        var tenant = Tenant.New();
        var (_, active, lease) = await TokenBilledH100LeaseAsync(tenant);
        var key = await lease.GetApiKeyAsync(tenant.Address);
        // 8 requests at once fill one slot; each holds 1,000,000 tokens against the escrow (10.8M).
        for (var i = 0; i < 8; i++) Assert.Equal(AdmissionOutcome.Admitted, (await lease.AdmitInferenceAsync(key, mostTokens: 1_000_000)).Outcome);
        Assert.Equal(AdmissionOutcome.Busy, (await lease.AdmitInferenceAsync(key, mostTokens: 1_000_000)).Outcome);

        var metered = await lease.RecordInferencesAsync(
        [
            new InferenceRecord(new InferenceUsage(100, 50), 1_000_000),
            new InferenceRecord(new InferenceUsage(0, 0), 1_000_000),
            new InferenceRecord(new InferenceUsage(200, 150), 1_000_000),
        ]);
        var pricePerMillion = AcceleratorCatalog.Require("h100").PricePerMillionTokens(Credits.FromCredits(3.00m));

        // A request that used nothing is not a metered request, as when recorded alone.
        Assert.Equal(new LeaseUsage(2, 300, 200), metered.Usage);
        Assert.Equal(LeaseBilling.OwedForTokens(pricePerMillion, 500, active.Deposit), metered.AmountOwed);
        Assert.Equal(metered.Usage, (await lease.GetAsync())!.Usage);
        // Three places are free again, and the tokens they held no longer count against the escrow.
        for (var i = 0; i < 3; i++) Assert.Equal(AdmissionOutcome.Admitted, (await lease.AdmitInferenceAsync(key, mostTokens: 1_000_000)).Outcome);
        Assert.Equal(AdmissionOutcome.Busy, (await lease.AdmitInferenceAsync(key, mostTokens: 1_000_000)).Outcome);
    }

    [Fact]
    public async Task A_token_billed_lease_owes_its_metered_tokens_at_the_price_per_million_and_stops_admitting_at_its_deposit()
    {
        var tenant = Tenant.New();
        var (_, active, lease) = await TokenBilledH100LeaseAsync(tenant);
        var key = await lease.GetApiKeyAsync(tenant.Address);
        var pricePerMillion = AcceleratorCatalog.Require("h100").PricePerMillionTokens(Credits.FromCredits(3.00m));

        await lease.AdmitInferenceAsync(key);
        await lease.RecordInferenceAsync(new InferenceUsage(1_200, 800));
        await lease.AdmitInferenceAsync(key);
        var metered = await lease.RecordInferenceAsync(new InferenceUsage(300, 700));

        Assert.Equal(new LeaseUsage(2, 1_500, 1_500), metered.Usage);
        // An H100 at 3.00 per slot-hour: 10.8M tokens an hour, so 3,000 tokens cost 3,000 × 0.277778 / 1M, rounded up to the unit.
        Assert.Equal(LeaseBilling.OwedForTokens(pricePerMillion, 3_000, active.Deposit), Credits.FromUnits(834));

        // The deposit buys 10.8M tokens; one huge request uses it all, and the next is refused for payment.
        await lease.AdmitInferenceAsync(key);
        await lease.RecordInferenceAsync(new InferenceUsage(5_000_000, 6_000_000));
        Assert.Equal(AdmissionOutcome.PaymentRequired, (await lease.AdmitInferenceAsync(key)).Outcome);

        var ended = await lease.EndAsync(tenant.Address);
        Assert.Equal(active.Deposit, ended.AmountOwed);
    }

    [Fact]
    public async Task A_request_is_admitted_only_when_the_escrow_can_pay_for_the_most_it_may_use_beside_the_requests_in_flight()
    {
        var tenant = Tenant.New();
        var (_, _, lease) = await TokenBilledH100LeaseAsync(tenant);
        var key = await lease.GetApiKeyAsync(tenant.Address);

        // The 3.00 escrowed buys 10.8M tokens of an H100 at 3.00 an hour.
        var beyondTheEscrow = await lease.AdmitInferenceAsync(key, mostTokens: 11_000_000);
        var first = await lease.AdmitInferenceAsync(key, mostTokens: 6_000_000);
        var besideIt = await lease.AdmitInferenceAsync(key, mostTokens: 6_000_000);
        // The first used far less than it might have: what it did not use is no longer held against the escrow.
        await lease.RecordInferenceAsync(new InferenceUsage(1_000, 1_000), mostTokens: 6_000_000);
        var afterIt = await lease.AdmitInferenceAsync(key, mostTokens: 6_000_000);

        Assert.Equal(AdmissionOutcome.PaymentRequired, beyondTheEscrow.Outcome);
        Assert.Contains("fewer max_tokens", beyondTheEscrow.Message);
        Assert.Equal(AdmissionOutcome.Admitted, first.Outcome);
        Assert.Equal(AdmissionOutcome.Busy, besideIt.Outcome);
        Assert.True(besideIt.RetryAfter > TimeSpan.Zero);
        Assert.Equal(AdmissionOutcome.Admitted, afterIt.Outcome);
    }

    [Fact]
    public async Task An_hour_billed_lease_meters_tokens_but_bills_time()
    {
        var tenant = Tenant.New();
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1, pricePerSlotHour: 3.60m);
        var active = await _market.FundAsync(await _market.RequestAsync(tenant, TestMarket.Request(pool)), tenant);
        var lease = _market.Lease(active.Id);
        await lease.AdmitInferenceAsync(await lease.GetApiKeyAsync(tenant.Address));
        await lease.RecordInferenceAsync(new InferenceUsage(50, 50));

        var ended = await lease.EndAsync(tenant.Address);

        Assert.Equal(100, ended.Usage.TotalTokens);
        // The minimum billed: a minute at 3.60 an hour.
        Assert.Equal(Credits.FromCredits(0.06m), ended.AmountOwed);
    }

    [Fact]
    public async Task An_hour_billed_lease_paying_as_it_goes_waits_for_a_voucher_for_its_time_so_far_and_ends_owing_at_least_that()
    {
        var tenant = Tenant.New();
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1, pricePerSlotHour: 3.60m);
        var request = TestMarket.Request(pool) with { VoucherEvery = Credits.FromCredits(0.05m) };
        var active = await _market.FundAsync(await _market.RequestAsync(tenant, request), tenant);
        var lease = _market.Lease(active.Id);
        var key = await lease.GetApiKeyAsync(tenant.Address);

        // Its first minute (the least billed) is 0.06 at 3.60 an hour, past the threshold of 0.05, before any request.
        var due = await lease.AdmitInferenceAsync(key);
        var tooMuch = await Assert.ThrowsAsync<MarketException>(() =>
            lease.SubmitUsageVoucherAsync(tenant.Sign(active.Id, due.AmountToSign!.Value + Credits.FromUnits(1), isFinal: false)));
        var paying = await lease.SubmitUsageVoucherAsync(tenant.Sign(active.Id, due.AmountToSign!.Value, isFinal: false));
        var resumed = await lease.AdmitInferenceAsync(key);
        var ended = await lease.EndAsync(tenant.Address);

        Assert.Equal((AdmissionOutcome.PaymentRequired, Credits.FromCredits(0.06m), active.Channel), (due.Outcome, due.AmountToSign, due.ChannelToSign));
        Assert.Equal(("AboveOwed", "amount"), (tooMuch.Reason, tooMuch.Field));
        Assert.Equal(LeaseReasons.UsageVoucherAccepted, paying.History[^1].Reason);
        Assert.Equal(AdmissionOutcome.Admitted, resumed.Outcome);
        // Time only grows: the final bill is never below a voucher the lease took.
        Assert.True(ended.AmountOwed >= paying.LastVoucher!.Amount);
    }

    [Fact]
    public async Task A_lease_paying_as_it_goes_waits_for_a_voucher_at_its_threshold_and_hands_each_voucher_to_settlement()
    {
        var tenant = Tenant.New();
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1, pricePerSlotHour: 3.00m);
        var request = TestMarket.Request(pool) with { BillBy = LeaseBillingMode.Tokens, VoucherEvery = Credits.FromCredits(0.01m) };
        var active = await _market.FundAsync(await _market.RequestAsync(tenant, request), tenant);
        var lease = _market.Lease(active.Id);
        var key = await lease.GetApiKeyAsync(tenant.Address);

        // 40,000 tokens of an H100 at 3.00 an hour: 0.011112, past the threshold of 0.01.
        await lease.AdmitInferenceAsync(key);
        var owing = await lease.RecordInferenceAsync(new InferenceUsage(20_000, 20_000));
        var due = await lease.AdmitInferenceAsync(key);

        // A voucher for part of it brings the unpaid usage under the threshold.
        var part = tenant.Sign(active.Id, Credits.FromCredits(0.005m), isFinal: false);
        var accepted = await lease.SubmitUsageVoucherAsync(part);
        var afterPart = await lease.AdmitInferenceAsync(key);
        var again = await Assert.ThrowsAsync<MarketException>(() => lease.SubmitUsageVoucherAsync(part));
        var tooMuch = await Assert.ThrowsAsync<MarketException>(() => lease.SubmitUsageVoucherAsync(tenant.Sign(active.Id, Credits.FromCredits(0.02m), isFinal: false)));
        var stranger = await Assert.ThrowsAsync<MarketException>(() => lease.SubmitUsageVoucherAsync(Tenant.New().Sign(active.Id, owing.AmountOwed, isFinal: false)));
        var final = await Assert.ThrowsAsync<MarketException>(() => lease.SubmitUsageVoucherAsync(tenant.Sign(active.Id, owing.AmountOwed)));
        // The tenant's own signature, for the amount owed, but over another lease: it would pay nothing on this escrow.
        var otherLease = await Assert.ThrowsAsync<MarketException>(() => lease.SubmitUsageVoucherAsync(tenant.Sign(Guid.CreateVersion7(), owing.AmountOwed, isFinal: false)));
        var unchanged = await lease.GetAsync();

        // As much again, and the threshold is crossed again: a voucher for the whole bill lets it go on.
        var more = await lease.RecordInferenceAsync(new InferenceUsage(20_000, 20_000));
        var dueAgain = await lease.AdmitInferenceAsync(key);
        var paying = await lease.SubmitUsageVoucherAsync(tenant.Sign(active.Id, dueAgain.AmountToSign!.Value, isFinal: false));
        var resumed = await lease.AdmitInferenceAsync(key);

        Assert.Equal(Credits.FromUnits(11_112), owing.AmountOwed);
        Assert.Equal((AdmissionOutcome.PaymentRequired, owing.AmountOwed), (due.Outcome, due.AmountToSign));
        Assert.Equal(part, accepted.LastVoucher);
        Assert.Equal(AdmissionOutcome.Admitted, afterPart.Outcome);
        Assert.Equal(("StaleVoucher", "AboveOwed", "BadSignature", "FinalVoucher", "WrongLease"),
            (again.Reason, tooMuch.Reason, stranger.Reason, final.Reason, otherLease.Reason));
        Assert.Equal(part, unchanged!.LastVoucher);
        Assert.Equal((AdmissionOutcome.PaymentRequired, more.AmountOwed), (dueAgain.Outcome, dueAgain.AmountToSign));
        Assert.Equal(Credits.FromUnits(22_223), more.AmountOwed);
        Assert.Equal(LeaseReasons.UsageVoucherAccepted, paying.History[^1].Reason);
        Assert.Equal(AdmissionOutcome.Admitted, resumed.Outcome);
        await Eventually.UntilAsync(() => Task.FromResult(ClusterFixture.Chain.AttemptsFor(active.Id).Count), n => n >= 1, what: "the voucher to reach settlement");
    }

    [Fact]
    public async Task An_escrow_nearly_used_up_stops_inference_until_a_top_up_arrives_from_the_chain()
    {
        var tenant = Tenant.New();
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1, pricePerSlotHour: 3.00m);
        var active = await _market.FundAsync(await _market.RequestAsync(tenant, TestMarket.Request(pool) with { BillBy = LeaseBillingMode.Tokens }), tenant);
        var lease = _market.Lease(active.Id);
        var key = await lease.GetApiKeyAsync(tenant.Address);

        // 10.3M tokens cost 2.861114 of the 3.00 escrowed: within 5% of it.
        await lease.AdmitInferenceAsync(key);
        await lease.RecordInferenceAsync(new InferenceUsage(5_000_000, 5_300_000));
        var low = await lease.AdmitInferenceAsync(key);
        var toppedUp = await lease.ConfirmTopUpAsync(new EscrowToppedUp(Credits.FromCredits(2m), Credits.FromCredits(5m), TestMarket.NewTransactionHash(), 200));
        var resumed = await lease.AdmitInferenceAsync(key);

        Assert.Equal((AdmissionOutcome.PaymentRequired, (Credits?)null), (low.Outcome, low.AmountToSign));
        Assert.Contains("top it up", low.Message);
        Assert.Equal((Credits.FromCredits(5m), LeaseReasons.EscrowToppedUp), (toppedUp!.Escrowed, toppedUp.History[^1].Reason));
        Assert.Equal(AdmissionOutcome.Admitted, resumed.Outcome);
    }

    [Fact]
    public async Task A_usage_voucher_for_no_more_than_the_escrow_paid_is_refused_as_stale_and_never_reaches_the_chain()
    {
        var tenant = Tenant.New();
        var (pool, active, lease) = await TokenBilledH100LeaseAsync(tenant);
        await lease.AdmitInferenceAsync(await lease.GetApiKeyAsync(tenant.Address));
        // 40,000 tokens of an H100 at 3.00 an hour: 0.011112 owed.
        await lease.RecordInferenceAsync(new InferenceUsage(20_000, 20_000));

        var zero = await Assert.ThrowsAsync<MarketException>(() => lease.SubmitUsageVoucherAsync(tenant.Sign(active.Id, Credits.Zero, isFinal: false)));
        // The escrow paid part of the bill by a voucher the market never saw: a voucher for no more than that pays nothing.
        await lease.ConfirmSettledAsync(new EscrowSettled(pool.PayoutAddress, Credits.FromCredits(0.005m), Credits.FromCredits(0.005m), TestMarket.NewTransactionHash(), 200));
        var before = await _market.GetLeaseAsync(active.Id);
        var asPaid = await Assert.ThrowsAsync<MarketException>(() => lease.SubmitUsageVoucherAsync(tenant.Sign(active.Id, Credits.FromCredits(0.005m), isFinal: false)));
        var belowPaid = await Assert.ThrowsAsync<MarketException>(() => lease.SubmitUsageVoucherAsync(tenant.Sign(active.Id, Credits.FromCredits(0.004m), isFinal: false)));
        var after = await _market.GetLeaseAsync(active.Id);

        Assert.All([zero, asPaid, belowPaid], refused => Assert.Equal((MarketError.Conflict, "amount", "StaleVoucher"), (refused.Error, refused.Field, refused.Reason)));
        Assert.Contains("pays nothing", zero.Message);
        Assert.Contains("paid 0.005", asPaid.Message);
        Assert.Null(after.LastVoucher);
        Assert.Equal(before.History.Count, after.History.Count);
        Assert.Equal(Credits.FromCredits(0.005m), after.Paid);

        // A voucher for more than is paid is taken, and it is the only one settlement sends for the lease.
        var paying = tenant.Sign(active.Id, Credits.FromCredits(0.008m), isFinal: false);
        Assert.Equal(paying, (await lease.SubmitUsageVoucherAsync(paying)).LastVoucher);
        await Eventually.UntilAsync(() => Task.FromResult(ClusterFixture.Chain.AttemptsFor(active.Id).Count), n => n >= 1, what: "the voucher to reach settlement");
        Assert.All(ClusterFixture.Chain.AttemptsFor(active.Id).SelectMany(a => a.Vouchers).Where(v => v.LeaseId == active.Id), v => Assert.Equal(paying, v));
    }

    /// <summary>An active lease of one H100 slot at 3.00 an hour, billed by its tokens, in a pool of its own.</summary>
    [Fact]
    public async Task Records_whose_write_failed_still_hold_their_places_until_sent_again_and_are_metered_once()
    {
        var tenant = Tenant.New();
        var (_, active, lease) = await TokenBilledH100LeaseAsync(tenant);
        var key = await lease.GetApiKeyAsync(tenant.Address);
        for (var i = 0; i < 8; i++) Assert.Equal(AdmissionOutcome.Admitted, (await lease.AdmitInferenceAsync(key)).Outcome);
        InferenceRecord[] two = [new(new InferenceUsage(100, 50), 0), new(new InferenceUsage(10, 5), 0)];

        Faults.FailWrites(active.Id.ToString("N"));
        await Assert.ThrowsAnyAsync<Exception>(() => lease.RecordInferencesAsync(two));
        // Still eight in flight: the failed records did not free their places, so they cannot be freed twice.
        var ninth = await lease.AdmitInferenceAsync(key);
        var metered = await lease.RecordInferencesAsync(two);
        var afterTwoFinished = (await lease.AdmitInferenceAsync(key), await lease.AdmitInferenceAsync(key), await lease.AdmitInferenceAsync(key));

        Assert.Equal(AdmissionOutcome.Busy, ninth.Outcome);
        Assert.Equal((2, 165L), (metered.Usage.Requests, metered.Usage.TotalTokens));
        Assert.Equal((AdmissionOutcome.Admitted, AdmissionOutcome.Admitted, AdmissionOutcome.Busy),
            (afterTwoFinished.Item1.Outcome, afterTwoFinished.Item2.Outcome, afterTwoFinished.Item3.Outcome));
    }

    private async Task<(PoolDefinition Pool, LeaseSnapshot Active, ILeaseGrain Lease)> TokenBilledH100LeaseAsync(Tenant tenant)
    {
        var pool = await _market.DefinePoolAsync(TestMarket.NewRegion(), slots: 1, pricePerSlotHour: 3.00m);
        var active = await _market.FundAsync(await _market.RequestAsync(tenant, TestMarket.Request(pool) with { BillBy = LeaseBillingMode.Tokens }), tenant);
        return (pool, active, _market.Lease(active.Id));
    }
}
