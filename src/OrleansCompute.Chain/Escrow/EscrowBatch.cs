// The escrow's packed formats, in one place: settleBatch items going in, Settled records coming out, and lease keys.
using System.Numerics;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Util;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Chain.Escrow;

public static class EscrowBatch
{
    /// <summary>leaseId (16) | channel (4) | isFinal (1) | amount (6) | r (32) | vs (32): the contract's BATCH_ITEM_SIZE.</summary>
    public const int ItemSize = 91;

    /// <summary>A Settled record's item: signer (20) | channel (4) | paid (6).</summary>
    public const int RecordItemSize = 30;

    /// <summary>The contract's bound on amounts: deposits, and so vouchers that can pay, are uint48.</summary>
    public static readonly BigInteger MaxAmount = (BigInteger.One << 48) - 1;

    /// <summary>
    /// The key of a signer's channel, the escrow word its leases take one after another and events name them by:
    /// keccak256(abi.encodePacked(signer, uint96(channel))), where the signer is the tenant, or the session key the tenant
    /// named when opening.
    /// </summary>
    public static string LeaseKey(string signer, uint channel)
    {
        var encoded = new byte[32];
        signer.HexToByteArray().CopyTo(encoded, 0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(encoded.AsSpan(28), channel);
        return Sha3Keccack.Current.CalculateHash(encoded).ToHex(prefix: true);
    }

    /// <summary>
    /// A lease's tag: the high 64 bits of its chain id (a Guid v7's timestamp part). A channel takes a lease only with a
    /// tag above that of its previous lease.
    /// </summary>
    public static ulong Tag(Guid leaseId) => (ulong)(LeaseIds.ToChainId(leaseId) >> 64);

    /// <summary>
    /// Packs vouchers for <c>settleBatch</c>. A malformed signature goes as r = vs = 0, which the contract reports as
    /// a rejected item (BadSignature) without holding back the others; an amount wider than uint48 cannot be packed,
    /// and no deposit can cover it, so it is refused here.
    /// </summary>
    public static byte[] Encode(IReadOnlyList<SignedVoucher> vouchers)
    {
        var items = new byte[vouchers.Count * ItemSize];
        for (var i = 0; i < vouchers.Count; i++)
        {
            var voucher = vouchers[i];
            var amount = CreditsOnChain.ToUnits(voucher.Amount);
            if (amount.Sign < 0 || amount > MaxAmount)
                throw new ArgumentOutOfRangeException(nameof(vouchers), $"Voucher for lease {voucher.LeaseId} is for {voucher.Amount}, beyond any deposit the escrow can hold.");
            var item = items.AsSpan(i * ItemSize, ItemSize);
            WriteBigEndian(LeaseIds.ToChainId(voucher.LeaseId), item[..16]);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(item.Slice(16, 4), voucher.Channel);
            item[20] = voucher.IsFinal ? (byte)1 : (byte)0;
            WriteBigEndian(amount, item.Slice(21, 6));
            if (VoucherSigner.ToCompact(voucher.Signature) is var (r, vs))
            {
                r.CopyTo(item.Slice(27, 32));
                vs.CopyTo(item.Slice(59, 32));
            }
        }
        return items;
    }

    /// <summary>Decodes a <c>Settled</c> event's records: runs of one provider, each with its items.</summary>
    public static IReadOnlyList<SettledRun> DecodeRecords(byte[] records)
    {
        var runs = new List<SettledRun>();
        var at = 0;
        while (at < records.Length)
        {
            if (at + 22 > records.Length) throw new FormatException("Settled records end inside a run header.");
            var providerId = (uint)ReadBigEndian(records, at, 4);
            var count = (int)ReadBigEndian(records, at + 4, 2);
            var net = ReadBigEndian(records, at + 6, 8);
            var fee = ReadBigEndian(records, at + 14, 8);
            at += 22;
            if (at + count * RecordItemSize > records.Length) throw new FormatException("Settled records end inside a run.");
            var items = new List<SettledItem>(count);
            for (var i = 0; i < count; i++, at += RecordItemSize)
            {
                var signer = AddressUtil.Current.ConvertToChecksumAddress(records.AsSpan(at, 20).ToArray().ToHex(prefix: true));
                var channel = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(records.AsSpan(at + 20, 4));
                items.Add(new SettledItem(signer, channel, ReadBigEndian(records, at + 24, 6)));
            }
            runs.Add(new SettledRun(providerId, net, fee, items));
        }
        return runs;
    }

    private static void WriteBigEndian(BigInteger value, Span<byte> destination)
    {
        var bytes = value.ToByteArray(isUnsigned: true, isBigEndian: true);
        bytes.CopyTo(destination[(destination.Length - bytes.Length)..]);
    }

    private static BigInteger ReadBigEndian(byte[] data, int at, int length) =>
        new(data.AsSpan(at, length), isUnsigned: true, isBigEndian: true);
}

/// <summary>The vouchers of one provider applied by one settle call: <see cref="Net"/> to the provider, <see cref="Fee"/> to fees.</summary>
public sealed record SettledRun(uint ProviderId, BigInteger Net, BigInteger Fee, IReadOnlyList<SettledItem> Items);

/// <summary>One applied voucher: the lease on <see cref="Signer"/>'s channel <see cref="Channel"/> has now been paid <see cref="Paid"/> in total.</summary>
public sealed record SettledItem(string Signer, uint Channel, BigInteger Paid)
{
    public string LeaseKey => EscrowBatch.LeaseKey(Signer, Channel);
}
