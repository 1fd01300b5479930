using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Grains.Tests;

/// <summary>
/// When a lease has seen its voucher applied on chain: the settlement queue confirms the voucher by it, and occ audit
/// does not report a voucher so seen as a mismatch while its queue has yet to mark it (after a host died, say).
/// </summary>
public sealed class VoucherSeenTests
{
    private static SignedVoucher Voucher(decimal amount, bool isFinal) =>
        new(Guid.CreateVersion7(), 0, Credits.FromCredits(amount), isFinal, "0x");

    [Theory]
    [InlineData(0.21, false, 0.21, LeaseStatus.Active, true)]
    [InlineData(0.21, false, 0.20, LeaseStatus.Active, false)]
    [InlineData(0.21, true, 0.21, LeaseStatus.Settled, true)]
    [InlineData(0.21, true, 0.21, LeaseStatus.Ended, false)]
    [InlineData(0.21, true, 0.30, LeaseStatus.Refunded, true)]
    [InlineData(0, true, 0, LeaseStatus.Ended, false)]
    [InlineData(0, true, 0, LeaseStatus.Settled, true)]
    public void A_lease_has_seen_a_voucher_when_it_counts_its_amount_paid_and_for_a_final_one_its_escrow_closed(
        decimal amount, bool isFinal, decimal paid, LeaseStatus status, bool seen)
    {
        Assert.Equal(seen, Voucher(amount, isFinal).IsSeenBy(Credits.FromCredits(paid), status));
    }
}
