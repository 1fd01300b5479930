using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Grains.Settlement;

namespace OrleansCompute.Grains.Tests;

/// <summary>Which refusals of a voucher a settlement queue tries again, for how long and how often.</summary>
public sealed class SettlementRetryTests
{
    [Theory]
    [InlineData("UnknownLease", true)]
    [InlineData("ExceedsDeposit", true)]
    [InlineData("NotSettler", true)]
    [InlineData("BadSignature", false)]
    [InlineData("LeaseAlreadyClosed", false)]
    [InlineData("ClaimWindowOver", false)]
    [InlineData("LeaseReplaced", false)]
    [InlineData("StaleVoucher", false)]
    [InlineData("Reason9", false)]
    public void Only_refusals_that_chain_state_can_still_change_may_pass(string reason, bool mayPass) =>
        Assert.Equal(mayPass, SettlementRetry.MayPass(reason));

    [Fact]
    public void The_waits_double_from_the_first_up_to_the_longest()
    {
        var waits = Enumerable.Range(1, 12).Select(n => SettlementRetry.Backoff(n, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(5))).ToList();

        Assert.Equal([2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300], waits.Select(w => w.TotalSeconds));
        Assert.Equal(TimeSpan.FromMinutes(5), SettlementRetry.Backoff(int.MaxValue, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(5)));
    }

    [Theory]
    [InlineData(LeaseStatus.Ended, true)]
    [InlineData(LeaseStatus.Active, true)]
    [InlineData(LeaseStatus.Reserved, true)]
    [InlineData(LeaseStatus.Settled, false)]
    [InlineData(LeaseStatus.Refunded, false)]
    public void A_voucher_settles_until_the_escrow_expiry_plus_the_claim_window_of_a_lease_not_yet_closed(LeaseStatus status, bool open)
    {
        var expiry = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var lease = new LeaseSnapshot
        {
            Id = Guid.NewGuid(), ChainLeaseId = "1", Status = status, Tenant = "0x", Request = new LeaseRequest("h100", 1, 1, "r"),
            CreatedAt = expiry.AddDays(-1), EscrowExpiry = expiry,
        };

        Assert.Equal(open ? expiry.AddHours(1) : null, SettlementRetry.SettleableUntil(lease, TimeSpan.FromHours(1)));
        Assert.Null(SettlementRetry.SettleableUntil(null, TimeSpan.FromHours(1)));
    }
}
