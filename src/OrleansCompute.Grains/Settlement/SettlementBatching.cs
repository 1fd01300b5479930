using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Grains.Settlement;

/// <summary>How a settlement queue cuts its queued vouchers into settleBatch transactions.</summary>
public static class SettlementBatching
{
    /// <summary>
    /// The next batch of <paramref name="queued"/> (oldest first): up to <paramref name="maxBatchSize"/> vouchers, at most one
    /// of each lease, and with each bundled one the other queued members of its bundle, even beyond that size: the batch carries the whole bundle
    /// anyway, and a member left behind would only go in a later transaction that the escrow skips as paid. Null when
    /// nothing is queued, or when a full batch is asked for (<paramref name="partial"/> false) and there is none.
    /// </summary>
    public static List<SettlementItem>? NextBatch(IEnumerable<SettlementItem> queued, int maxBatchSize, bool partial)
    {
        var batch = new List<SettlementItem>();
        var bundles = new HashSet<(string, string?)>();
        var leases = new HashSet<Guid>();
        foreach (var item in queued)
        {
            // One voucher per lease per batch: the escrow names a refused item by its lease id only, so a refusal of one
            // (a final voucher from a key that is not a settler) would be read as a refusal of the other, which paid. The
            // later voucher goes in the next batch, where it pays what it adds.
            if (leases.Contains(item.Voucher.LeaseId)) continue;
            if (batch.Count < maxBatchSize)
            {
                if (item.Voucher.Bundle is not null) bundles.Add(BundleOf(item.Voucher));
            }
            else if (bundles.Count == 0)
            {
                break;
            }
            else if (item.Voucher.Bundle is null || !bundles.Contains(BundleOf(item.Voucher)))
            {
                continue;
            }
            batch.Add(item);
            leases.Add(item.Voucher.LeaseId);
        }
        return batch.Count == 0 || (!partial && batch.Count < maxBatchSize) ? null : batch;
    }

    /// <summary>What the members of one bundle share, and only they: the bundle and its one signature.</summary>
    public static (string Signature, string? Bundle) BundleOf(SignedVoucher voucher) => (voucher.Signature, voucher.Bundle);
}
