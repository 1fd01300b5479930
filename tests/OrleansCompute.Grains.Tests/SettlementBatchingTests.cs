using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Grains.Settlement;

namespace OrleansCompute.Grains.Tests;

/// <summary>How a settlement queue cuts its vouchers into batches, bundles kept whole.</summary>
public sealed class SettlementBatchingTests
{
    private static SettlementItem Queued(string? bundle = null, string signature = "0xsig", Guid? lease = null, long amount = 1) =>
        new(new SignedVoucher(lease ?? Guid.NewGuid(), 0, Credits.FromUnits(amount), true, signature, bundle), SettlementItemStatus.Queued, DateTimeOffset.UnixEpoch);

    [Fact]
    public void A_batch_takes_the_oldest_vouchers_up_to_its_size()
    {
        var queue = Enumerable.Range(0, 5).Select(_ => Queued()).ToList();

        Assert.Equal(queue[..3], SettlementBatching.NextBatch(queue, maxBatchSize: 3, partial: false));
        Assert.Equal(queue, SettlementBatching.NextBatch(queue, maxBatchSize: 10, partial: true));
        Assert.Null(SettlementBatching.NextBatch(queue, maxBatchSize: 10, partial: false));
        Assert.Null(SettlementBatching.NextBatch([], maxBatchSize: 10, partial: true));
    }

    [Fact]
    public void A_bundle_member_brings_the_other_queued_members_of_its_bundle_beyond_the_batch_size()
    {
        var single = Queued();
        var bundled = new[] { Queued("0xaa"), Queued("0xaa"), Queued("0xaa") };
        var sameBundleOtherSignature = Queued("0xaa", signature: "0xother");
        var otherBundle = Queued("0xbb");
        SettlementItem[] queue = [single, bundled[0], otherBundle, Queued(), bundled[1], sameBundleOtherSignature, bundled[2]];

        var batch = SettlementBatching.NextBatch(queue, maxBatchSize: 2, partial: false);

        Assert.Equal([single, bundled[0], bundled[1], bundled[2]], batch);
    }

    [Fact]
    public void A_batch_takes_one_voucher_of_a_lease_and_leaves_its_later_one_for_the_next()
    {
        var lease = Guid.NewGuid();
        var usage = Queued(lease: lease, amount: 1);
        var final = Queued(lease: lease, amount: 2);
        var other = Queued();

        var first = SettlementBatching.NextBatch([usage, final, other], maxBatchSize: 10, partial: true);
        var next = SettlementBatching.NextBatch([final], maxBatchSize: 10, partial: true);

        // The escrow names a refused item by its lease id alone: two of one lease in a batch could not be told apart.
        Assert.Equal([usage, other], first);
        Assert.Equal([final], next);
    }
}
