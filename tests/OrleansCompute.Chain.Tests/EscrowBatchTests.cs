using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Signing;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>settleBatch entries without a chain: singles, bundles, and what cannot be packed.</summary>
public sealed class EscrowBatchTests
{
    private const string Escrow = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    private static readonly string TenantKey = DevAccounts.Tenants[0].PrivateKey;
    private readonly VoucherSigner _signer = new(31337, Escrow);

    private static VoucherRequest Final(Credits amount, uint channel = 0) =>
        new(Guid.CreateVersion7(), "", amount, IsFinal: true, channel);

    private static (Guid LeaseId, uint Channel, Credits Amount, bool IsFinal) Terms(Voucher voucher) =>
        (LeaseIds.FromChainId(voucher.LeaseId)!.Value, (uint)voucher.Channel, CreditsOnChain.FromUnits(voucher.Amount), voucher.IsFinal);

    private static (Guid LeaseId, uint Channel, Credits Amount, bool IsFinal) Terms(SignedVoucher voucher) =>
        (voucher.LeaseId, voucher.Channel, voucher.Amount, voucher.IsFinal);

    [Fact]
    public void A_voucher_signed_alone_is_an_entry_of_one_item_under_its_own_signature()
    {
        var voucher = _signer.Sign(TenantKey, Guid.CreateVersion7(), 3, Credits.FromCredits(12.5m), isFinal: true);

        var entries = EscrowBatch.Encode([voucher]);

        Assert.Equal(EscrowBatch.EntryHeaderSize + EscrowBatch.ItemSize, entries.Length);
        Assert.Equal(1, entries[0]);
        var (r, vs) = VoucherSigner.ToCompact(voucher.Signature)!.Value;
        Assert.Equal(r, entries[1..33]);
        Assert.Equal(vs, entries[33..65]);
        var entry = Assert.Single(EscrowBatch.DecodeEntries(entries));
        Assert.Equal(Terms(voucher), Terms(Assert.Single(entry.Items)));
    }

    [Fact]
    public void A_bundle_goes_whole_as_one_entry_once_however_many_of_its_members_the_batch_holds()
    {
        var members = _signer.SignBundle(TenantKey, [Final(Credits.FromCredits(1m)), Final(Credits.FromCredits(2m), channel: 4), Final(Credits.FromUnits(7))]);
        var single = _signer.Sign(TenantKey, Guid.CreateVersion7(), 1, Credits.FromCredits(9m), isFinal: false);

        // Two of the bundle's three members, with a single between them.
        var entries = EscrowBatch.Encode([members[2], single, members[0]]);

        Assert.Equal(EscrowBatch.EntryHeaderSize + 3 * EscrowBatch.ItemSize + EscrowBatch.EntryHeaderSize + EscrowBatch.ItemSize, entries.Length);
        var decoded = EscrowBatch.DecodeEntries(entries);
        Assert.Equal(2, decoded.Count);
        Assert.Equal(3, entries[0]);
        Assert.Equal(members.Select(Terms), decoded[0].Items.Select(Terms));
        var (r, vs) = VoucherSigner.ToCompact(members[0].Signature)!.Value;
        Assert.Equal(r, decoded[0].R);
        Assert.Equal(vs, decoded[0].Vs);
        Assert.Equal(Terms(single), Terms(Assert.Single(decoded[1].Items)));
        Assert.Equal(VoucherSigner.ToCompact(single.Signature)!.Value.R, decoded[1].R);
        Assert.Equal(members[0].Bundle, "0x" + Convert.ToHexStringLower(entries[EscrowBatch.EntryHeaderSize..(EscrowBatch.EntryHeaderSize + 3 * EscrowBatch.ItemSize)]));
    }

    [Fact]
    public void Two_bundles_of_one_batch_go_as_two_entries()
    {
        var first = _signer.SignBundle(TenantKey, [Final(Credits.FromCredits(1m)), Final(Credits.FromCredits(2m))]);
        var second = _signer.SignBundle(DevAccounts.Tenants[1].PrivateKey, [Final(Credits.FromCredits(3m)), Final(Credits.FromCredits(4m))]);

        var decoded = EscrowBatch.DecodeEntries(EscrowBatch.Encode([.. first, .. second]));

        Assert.Equal([first.Select(Terms), second.Select(Terms)], decoded.Select(e => e.Items.Select(Terms)));
    }

    [Fact]
    public void A_voucher_its_bundle_does_not_hold_goes_alone_unsigned_so_the_escrow_rejects_it_and_nothing_else()
    {
        var members = _signer.SignBundle(TenantKey, [Final(Credits.FromCredits(1m)), Final(Credits.FromCredits(2m))]);
        var stranger = members[0] with { Amount = Credits.FromCredits(5m) };

        var entry = Assert.Single(EscrowBatch.DecodeEntries(EscrowBatch.Encode([stranger])));

        Assert.Equal(Terms(stranger), Terms(Assert.Single(entry.Items)));
        Assert.Equal(new byte[32], entry.R);
        Assert.Equal(new byte[32], entry.Vs);
    }

    [Fact]
    public void A_bundle_packs_to_27_byte_items_and_parses_back()
    {
        var vouchers = new[] { Final(Credits.FromUnits(0)), Final(Credits.FromUnits((long)EscrowBatch.MaxAmount), channel: uint.MaxValue) with { IsFinal = false } }
            .Select(v => VoucherSigner.ToChainVoucher(v.LeaseId, v.Channel, v.Amount, v.IsFinal)).ToList();

        var bundle = EscrowBatch.PackBundle(vouchers);

        Assert.Equal(2 + 2 * 2 * EscrowBatch.ItemSize, bundle.Length);
        Assert.Equal(vouchers.Select(Terms), EscrowBatch.ParseBundle(bundle)!.Select(Terms));
    }

    public static TheoryData<string> MalformedBundles()
    {
        var item = Convert.ToHexStringLower(new byte[EscrowBatch.ItemSize]);
        var finalFlagTwo = new byte[EscrowBatch.ItemSize];
        finalFlagTwo[20] = 2;
        return new TheoryData<string>
        {
            "",
            "0x",
            "0x" + item,
            item + item,
            "0x" + item + item + "00",
            "0x" + item + item[..^2] + "zz",
            "0x" + item + Convert.ToHexStringLower(finalFlagTwo),
            "0x" + string.Concat(Enumerable.Repeat(item, EscrowBatch.MaxBundle + 1)),
        };
    }

    [Theory]
    [MemberData(nameof(MalformedBundles))]
    public void A_malformed_bundle_parses_as_none(string bundle)
    {
        Assert.Null(EscrowBatch.ParseBundle(bundle));
    }

    [Fact]
    public void A_bundle_holds_2_to_255_vouchers()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _signer.SignBundle(TenantKey, [Final(Credits.FromUnits(1))]));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            _signer.SignBundle(TenantKey, Enumerable.Range(0, EscrowBatch.MaxBundle + 1).Select(_ => Final(Credits.FromUnits(1))).ToList()));

        var largest = _signer.SignBundle(TenantKey, Enumerable.Range(0, EscrowBatch.MaxBundle).Select(_ => Final(Credits.FromUnits(1))).ToList());

        Assert.Equal(EscrowBatch.EntryHeaderSize + EscrowBatch.MaxBundle * EscrowBatch.ItemSize, EscrowBatch.Encode(largest).Length);
    }

    [Fact]
    public void An_amount_beyond_uint48_is_refused_before_anything_is_sent()
    {
        var tooMuch = CreditsOnChain.FromUnits(EscrowBatch.MaxAmount + 1);

        Assert.Throws<ArgumentOutOfRangeException>(() => EscrowBatch.Encode([_signer.Sign(TenantKey, Guid.CreateVersion7(), 0, tooMuch, isFinal: true)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => _signer.SignBundle(TenantKey, [Final(Credits.FromUnits(1)), Final(tooMuch)]));
    }

    [Fact]
    public void Entries_that_end_inside_a_header_or_items_or_hold_no_items_do_not_decode()
    {
        var entries = EscrowBatch.Encode(_signer.SignBundle(TenantKey, [Final(Credits.FromUnits(1)), Final(Credits.FromUnits(2))]));
        var empty = (byte[])entries.Clone();
        empty[0] = 0;

        Assert.Throws<FormatException>(() => EscrowBatch.DecodeEntries(entries[..^1]));
        Assert.Throws<FormatException>(() => EscrowBatch.DecodeEntries(entries[..10]));
        Assert.Throws<FormatException>(() => EscrowBatch.DecodeEntries(empty));
    }
}
