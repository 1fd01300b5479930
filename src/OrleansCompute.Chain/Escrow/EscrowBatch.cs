// The escrow's packed formats, in one place: settleBatch entries and voucher bundles going in, Settled records coming out, and lease keys.
using System.Buffers;
using System.Numerics;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Util;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Chain.Escrow;

public static class EscrowBatch
{
    /// <summary>A settleBatch entry's header: count (1) | r (32) | vs (32), the signature of its items: the contract's BATCH_ENTRY_HEADER_SIZE.</summary>
    public const int EntryHeaderSize = 65;

    /// <summary>leaseId (16) | channel (4) | isFinal (1) | amount (6): the contract's BATCH_ITEM_SIZE, and a bundle's item.</summary>
    public const int ItemSize = 27;

    /// <summary>The most items one entry, and so one bundle, can hold (its count is a byte): the contract's MAX_BUNDLE.</summary>
    public const int MaxBundle = 255;

    /// <summary>A Settled record's item: signer (20) | channel (4) | paid (6).</summary>
    public const int RecordItemSize = 30;

    /// <summary>The contract's bound on amounts: deposits, and so vouchers that can pay, are uint48.</summary>
    public static readonly BigInteger MaxAmount = (BigInteger.One << 48) - 1;

    private static readonly BigInteger MaxLeaseId = (BigInteger.One << 128) - 1;

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
    /// Packs vouchers as settleBatch entries. A voucher signed on its own is an entry of one item. A bundled voucher brings
    /// its whole bundle as one entry, once per batch however many of its members the batch holds: the signature covers
    /// the bundle, so the contract needs all of it, and applying it pays every member at once (a member sent again later
    /// is skipped as already paid).
    /// A malformed signature goes as r = vs = 0, which the contract reports as rejected items (BadSignature) without
    /// holding back the other entries; so does a voucher whose bundle is malformed or does not hold the voucher, alone,
    /// as nothing signed it. An amount wider than uint48 cannot be packed, and no deposit can cover it, so it is refused here.
    /// </summary>
    public static byte[] Encode(IReadOnlyList<SignedVoucher> vouchers)
    {
        var entries = new ArrayBufferWriter<byte>(Math.Max(1, vouchers.Count) * (EntryHeaderSize + ItemSize));
        // Each bundle is read once however many of its members the batch holds; a bundle signed twice differently goes twice.
        var bundles = new Dictionary<string, byte[]?>(StringComparer.Ordinal);
        var bundlesSent = new HashSet<(string Signature, string Bundle)>();
        Span<byte> item = stackalloc byte[ItemSize];
        foreach (var voucher in vouchers)
        {
            var amount = CreditsOnChain.ToUnits(voucher.Amount);
            if (amount.Sign < 0 || amount > MaxAmount)
                throw new ArgumentOutOfRangeException(nameof(vouchers), $"Voucher for lease {voucher.LeaseId} is for {voucher.Amount}, beyond any deposit the escrow can hold.");
            WriteItem(item, voucher);
            if (voucher.Bundle is null)
            {
                WriteEntry(entries, 1, voucher.Signature, item);
            }
            else if ((bundles.TryGetValue(voucher.Bundle, out var bundle) ? bundle : bundles[voucher.Bundle] = ReadBundle(voucher.Bundle)) is { } items
                     && Holds(items, item))
            {
                if (bundlesSent.Add((voucher.Signature, voucher.Bundle))) WriteEntry(entries, items.Length / ItemSize, voucher.Signature, items);
            }
            else
            {
                WriteEntry(entries, 1, signature: null, item);
            }
        }
        return entries.WrittenSpan.ToArray();
    }

    /// <summary>How many vouchers settleBatch entries carry (the counts in their headers), for a gas limit; entries as <see cref="Encode"/> writes them.</summary>
    public static int ItemCount(ReadOnlySpan<byte> entries)
    {
        var items = 0;
        for (var at = 0; at < entries.Length; at += EntryHeaderSize + entries[at] * ItemSize) items += entries[at];
        return items;
    }

    /// <summary>Reads settleBatch entries back: each one's signature halves and the vouchers it signs, in order.</summary>
    /// <exception cref="FormatException">The bytes are not whole entries of 1 to <see cref="MaxBundle"/> items.</exception>
    public static IReadOnlyList<BatchEntry> DecodeEntries(ReadOnlySpan<byte> entries)
    {
        var decoded = new List<BatchEntry>();
        var at = 0;
        while (at < entries.Length)
        {
            if (at + EntryHeaderSize > entries.Length) throw new FormatException("settleBatch entries end inside an entry header.");
            int count = entries[at];
            if (count == 0) throw new FormatException("A settleBatch entry holds no items.");
            var items = entries.Slice(at + EntryHeaderSize);
            if (items.Length < count * ItemSize) throw new FormatException("settleBatch entries end inside an entry's items.");
            var vouchers = new List<Voucher>(count);
            for (var i = 0; i < count; i++) vouchers.Add(ReadItem(items.Slice(i * ItemSize, ItemSize)));
            decoded.Add(new BatchEntry(entries.Slice(at + 1, 32).ToArray(), entries.Slice(at + 33, 32).ToArray(), vouchers));
            at += EntryHeaderSize + count * ItemSize;
        }
        return decoded;
    }

    /// <summary>A bundle of vouchers as <see cref="SignedVoucher.Bundle"/> carries it: "0x" and the hex of their packed items, in order.</summary>
    /// <exception cref="ArgumentException">Not 2 to <see cref="MaxBundle"/> vouchers, or a field too wide for its item.</exception>
    public static string PackBundle(IReadOnlyList<Voucher> vouchers)
    {
        if (vouchers.Count is < 2 or > MaxBundle)
            throw new ArgumentOutOfRangeException(nameof(vouchers), vouchers.Count, $"A bundle holds 2 to {MaxBundle} vouchers; a single voucher is signed on its own.");
        var items = new byte[vouchers.Count * ItemSize];
        for (var i = 0; i < vouchers.Count; i++)
        {
            var voucher = vouchers[i];
            if (voucher.LeaseId.Sign < 0 || voucher.LeaseId > MaxLeaseId || voucher.Channel.Sign < 0 || voucher.Channel > uint.MaxValue
                || voucher.Amount.Sign < 0 || voucher.Amount > MaxAmount)
                throw new ArgumentOutOfRangeException(nameof(vouchers), $"Voucher {i} of the bundle (lease {voucher.LeaseId}) has a field too wide for a settleBatch item.");
            WriteItem(items.AsSpan(i * ItemSize, ItemSize), voucher.LeaseId, (uint)voucher.Channel, voucher.IsFinal, voucher.Amount);
        }
        return items.ToHex(prefix: true);
    }

    /// <summary>The vouchers of a bundle as <see cref="SignedVoucher.Bundle"/> carries it, or null when it is not a well-formed bundle.</summary>
    public static IReadOnlyList<Voucher>? ParseBundle(string bundle)
    {
        if (ReadBundle(bundle) is not { } items) return null;
        var vouchers = new List<Voucher>(items.Length / ItemSize);
        for (var at = 0; at < items.Length; at += ItemSize) vouchers.Add(ReadItem(items.AsSpan(at, ItemSize)));
        return vouchers;
    }

    /// <summary>Whether <paramref name="bundle"/> is well-formed and holds the voucher's own item (its lease, channel, amount and finality).</summary>
    public static bool BundleHolds(string bundle, SignedVoucher voucher)
    {
        if (voucher.Amount.Units < 0 || voucher.Amount.Units > (long)MaxAmount || ReadBundle(bundle) is not { } items) return false;
        Span<byte> item = stackalloc byte[ItemSize];
        WriteItem(item, voucher);
        return Holds(items, item);
    }

    /// <summary>
    /// The packed items of a bundle: "0x"-hex of 2 to <see cref="MaxBundle"/> whole items, each final flag 0 or 1 (what
    /// the signer's digest can say); else null.
    /// </summary>
    private static byte[]? ReadBundle(string bundle)
    {
        if (bundle.Length < 2 || !bundle.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) return null;
        byte[] items;
        try
        {
            items = Convert.FromHexString(bundle.AsSpan(2));
        }
        catch (FormatException)
        {
            return null;
        }
        if (items.Length % ItemSize != 0 || items.Length / ItemSize is < 2 or > MaxBundle) return null;
        for (var at = 16 + 4; at < items.Length; at += ItemSize)
            if (items[at] > 1) return null;
        return items;
    }

    private static bool Holds(byte[] items, ReadOnlySpan<byte> item)
    {
        for (var at = 0; at < items.Length; at += ItemSize)
            if (item.SequenceEqual(items.AsSpan(at, ItemSize))) return true;
        return false;
    }

    private static void WriteEntry(ArrayBufferWriter<byte> entries, int count, string? signature, ReadOnlySpan<byte> items)
    {
        var header = entries.GetSpan(EntryHeaderSize)[..EntryHeaderSize];
        header.Clear();
        header[0] = (byte)count;
        if (VoucherSigner.ToCompact(signature ?? string.Empty) is var (r, vs))
        {
            r.CopyTo(header.Slice(1, 32));
            vs.CopyTo(header.Slice(33, 32));
        }
        entries.Advance(EntryHeaderSize);
        entries.Write(items);
    }

    private static void WriteItem(Span<byte> item, SignedVoucher voucher) =>
        WriteItem(item, LeaseIds.ToChainId(voucher.LeaseId), voucher.Channel, voucher.IsFinal, CreditsOnChain.ToUnits(voucher.Amount));

    private static void WriteItem(Span<byte> item, BigInteger leaseId, uint channel, bool isFinal, BigInteger amount)
    {
        item.Clear();
        WriteBigEndian(leaseId, item[..16]);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(item.Slice(16, 4), channel);
        item[20] = isFinal ? (byte)1 : (byte)0;
        WriteBigEndian(amount, item.Slice(21, 6));
    }

    private static Voucher ReadItem(ReadOnlySpan<byte> item) => new()
    {
        LeaseId = new BigInteger(item[..16], isUnsigned: true, isBigEndian: true),
        Channel = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(item.Slice(16, 4)),
        IsFinal = item[20] != 0,
        Amount = new BigInteger(item.Slice(21, 6), isUnsigned: true, isBigEndian: true),
    };

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

/// <summary>One settleBatch entry: the signature halves (r, vs) and the vouchers they sign, one alone or a bundle.</summary>
public sealed record BatchEntry(byte[] R, byte[] Vs, IReadOnlyList<Voucher> Items);

/// <summary>The vouchers of one provider applied by one settle call: <see cref="Net"/> to the provider, <see cref="Fee"/> to fees.</summary>
public sealed record SettledRun(uint ProviderId, BigInteger Net, BigInteger Fee, IReadOnlyList<SettledItem> Items);

/// <summary>One applied voucher: the lease on <see cref="Signer"/>'s channel <see cref="Channel"/> has now been paid <see cref="Paid"/> in total.</summary>
public sealed record SettledItem(string Signer, uint Channel, BigInteger Paid)
{
    public string LeaseKey => EscrowBatch.LeaseKey(Signer, Channel);
}
