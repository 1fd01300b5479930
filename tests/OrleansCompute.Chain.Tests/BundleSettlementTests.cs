using System.Numerics;
using Nethereum.Contracts;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Contracts.LeaseEscrow;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Tests.Fixtures;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>Voucher bundles on the real escrow: one signature settling several leases, and a bad one settling none.</summary>
[Collection(ChainCollection.Name)]
public sealed class BundleSettlementTests(ChainFixture chain)
{
    private EscrowSettlement Settlement => new(chain.Operator, chain.Contracts.EscrowAddress);

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(EscrowBatch.MaxBundle)]
    public async Task The_csharp_bundle_digest_equals_the_contracts_hashVoucherBundle(int count)
    {
        var vouchers = Enumerable.Range(0, count).Select(i => new Voucher
        {
            LeaseId = i == 0 ? (BigInteger.One << 128) - 1 : LeaseIds.ToChainId(Guid.NewGuid()),
            Channel = i == 1 ? uint.MaxValue : (uint)i,
            Amount = i == 0 ? EscrowBatch.MaxAmount : Random.Shared.NextInt64(0, 1L << 48),
            IsFinal = i % 2 == 0,
        }).ToList();

        var onChain = await chain.Escrow.HashVoucherBundleAsync(vouchers);

        Assert.Equal(Convert.ToHexString(onChain), Convert.ToHexString(chain.Vouchers.BundleDigest(vouchers)));
    }

    [Fact]
    public async Task The_batch_format_is_the_contracts()
    {
        async Task<BigInteger> Constant<TFunction>() where TFunction : FunctionMessage, new() =>
            await chain.Rpc.QueryAsync<TFunction, BigInteger>(chain.Contracts.EscrowAddress, new TFunction());

        Assert.Equal(EscrowBatch.EntryHeaderSize, (int)await Constant<BatchEntryHeaderSizeFunction>());
        Assert.Equal(EscrowBatch.ItemSize, (int)await Constant<BatchItemSizeFunction>());
        Assert.Equal(EscrowBatch.MaxBundle, (int)await Constant<MaxBundleFunction>());
        Assert.Equal(EscrowBatch.MaxAmount, await Constant<MaxDepositFunction>());
    }

    [Fact]
    public async Task A_bundle_of_several_leases_settles_in_one_transaction_paying_each_lease_and_refunding_the_rest()
    {
        (Credits Deposit, Credits Owed)[] terms =
            [(Credits.FromCredits(10m), Credits.FromCredits(4m)), (Credits.FromCredits(20m), Credits.FromCredits(20m)), (Credits.FromCredits(5m), Credits.FromUnits(1))];
        var tenantBefore = await chain.TenantHoldsAsync(1);
        var ids = new List<Guid>();
        foreach (var (deposit, _) in terms) ids.Add(await chain.OpenLeaseAsync(tenant: 1, provider: 2, deposit));
        var providerBefore = await chain.Escrow.GetProviderBalanceAsync(chain.Providers[2].Address);
        var members = chain.SignBundle(1, [.. ids.Select((id, i) => (id, terms[i].Owed, true))]);

        var receipt = await Settlement.SettleBatchAsync(members, CancellationToken.None);

        Assert.True(receipt.Succeeded, receipt.Error);
        Assert.Empty(receipt.Rejections!);
        var sent = await chain.GetTransactionAsync(receipt.TransactionHash);
        var entry = Assert.Single(EscrowBatch.DecodeEntries(sent.DecodeTransactionToFunctionMessage<SettleBatchFunction>().Entries));
        Assert.Equal(3, entry.Items.Count);
        Assert.Equal(EscrowSettlement.GasLimit(3), (long)sent.Gas.Value);
        for (var i = 0; i < ids.Count; i++)
        {
            var lease = await chain.GetLeaseAsync(1, ids[i]);
            Assert.True(lease!.Closed);
            Assert.Equal(terms[i].Owed, lease.Paid);
        }
        var owed = terms.Aggregate(Credits.Zero, (sum, t) => sum + t.Owed);
        Assert.Equal(providerBefore + owed - ChainFixture.Fee(owed), await chain.Escrow.GetProviderBalanceAsync(chain.Providers[2].Address));
        Assert.Equal(tenantBefore - owed, await chain.TenantHoldsAsync(1));
        await chain.AssertConservedAsync();
    }

    [Fact]
    public async Task Any_one_member_carries_its_whole_bundle_and_the_gas_limit_counts_every_item_it_brings()
    {
        var first = await chain.OpenLeaseAsync(tenant: 2, provider: 0, Credits.FromCredits(8m));
        var second = await chain.OpenLeaseAsync(tenant: 2, provider: 1, Credits.FromCredits(8m));
        var members = chain.SignBundle(2, (first, Credits.FromCredits(3m), true), (second, Credits.FromCredits(2m), false));
        // settle() takes a voucher's own signature, which a member does not have.
        await Assert.ThrowsAsync<ArgumentException>(() => chain.Escrow.SettleAsync(chain.Operator, members[0]));

        var receipt = await Settlement.SettleBatchAsync([members[1]], CancellationToken.None);

        Assert.True(receipt.Succeeded, receipt.Error);
        Assert.Equal(EscrowSettlement.GasLimit(2), (long)(await chain.GetTransactionAsync(receipt.TransactionHash)).Gas.Value);
        Assert.True((await chain.GetLeaseAsync(2, first)) is { Closed: true, Paid: var paidFirst } && paidFirst == Credits.FromCredits(3m));
        Assert.True((await chain.GetLeaseAsync(2, second)) is { Closed: false, Paid: var paidSecond } && paidSecond == Credits.FromCredits(2m));

        // Sent again, whole or by any member, it pays nothing twice.
        var provider = await chain.Escrow.GetProviderBalanceAsync(chain.Providers[0].Address);
        var replay = await Settlement.SettleBatchAsync(members, CancellationToken.None);
        Assert.True(replay.Succeeded, replay.Error);
        Assert.Empty(replay.Rejections!);
        Assert.Equal(provider, await chain.Escrow.GetProviderBalanceAsync(chain.Providers[0].Address));
        await chain.AssertConservedAsync();
    }

    [Fact]
    public async Task A_bundle_with_one_amount_tampered_is_rejected_for_every_item_and_changes_nothing_on_chain()
    {
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++) ids.Add(await chain.OpenLeaseAsync(tenant: 3, provider: 1, Credits.FromCredits(10m)));
        var members = chain.SignBundle(3, [.. ids.Select(id => (id, Credits.FromCredits(6m), true))]);
        // The provider raises the second lease's amount in the bundle (and its voucher) after the tenant signed.
        var items = Convert.FromHexString(members[1].Bundle![2..]);
        var raised = Credits.FromCredits(9m);
        var amountField = items.AsSpan(2 * EscrowBatch.ItemSize - 6, 6);
        for (var b = 0; b < 6; b++) amountField[5 - b] = (byte)(raised.Units >> (8 * b));
        var tamperedBundle = "0x" + Convert.ToHexStringLower(items);
        var tampered = members.Select(m => m with { Bundle = tamperedBundle, Amount = m.LeaseId == ids[1] ? raised : m.Amount }).ToList();
        Assert.All(tampered, m => Assert.True(chain.Vouchers.IsInItsBundle(m)));
        var providerBefore = await chain.Escrow.GetProviderBalanceAsync(chain.Providers[1].Address);
        var tenantBefore = await chain.TenantHoldsAsync(3);

        var receipt = await Settlement.SettleBatchAsync(tampered, CancellationToken.None);

        // The signature recovers some other address, whose channels hold no such leases.
        Assert.True(receipt.Succeeded, receipt.Error);
        Assert.Equal(ids.Select(id => new SettlementRejection(id, "UnknownLease")), receipt.Rejections);
        foreach (var id in ids) Assert.True((await chain.GetLeaseAsync(3, id)) is { Closed: false, Paid.Units: 0 });
        Assert.Equal(providerBefore, await chain.Escrow.GetProviderBalanceAsync(chain.Providers[1].Address));
        Assert.Equal(tenantBefore, await chain.TenantHoldsAsync(3));
        await chain.AssertConservedAsync();

        // The bundle as signed still settles: the tampered one consumed nothing.
        var honest = await Settlement.SettleBatchAsync(members, CancellationToken.None);
        Assert.Empty(honest.Rejections!);
        foreach (var id in ids) Assert.True((await chain.GetLeaseAsync(3, id)) is { Closed: true, Paid: var paid } && paid == Credits.FromCredits(6m));
    }

    [Fact]
    public async Task A_bundle_with_a_malformed_signature_is_rejected_as_BadSignature_for_every_item()
    {
        var ids = new[] { await chain.OpenLeaseAsync(tenant: 0, provider: 0, Credits.FromCredits(2m)), await chain.OpenLeaseAsync(tenant: 0, provider: 0, Credits.FromCredits(2m)) };
        var members = chain.SignBundle(0, [.. ids.Select(id => (id, Credits.FromCredits(1m), true))]);

        var receipt = await Settlement.SettleBatchAsync(members.Select(m => m with { Signature = "0x1234" }).ToList(), CancellationToken.None);

        Assert.Equal(ids.Select(id => new SettlementRejection(id, "BadSignature")), receipt.Rejections);
        foreach (var id in ids) Assert.False((await chain.GetLeaseAsync(0, id))!.Closed);
    }

    [Fact]
    public async Task A_batch_mixing_singles_and_a_bundle_applies_every_voucher_in_one_transaction()
    {
        var singles = new[] { await chain.OpenLeaseAsync(tenant: 0, provider: 1, Credits.FromCredits(3m)), await chain.OpenLeaseAsync(tenant: 0, provider: 2, Credits.FromCredits(3m)) };
        var bundled = new[] { await chain.OpenLeaseAsync(tenant: 4, provider: 1, Credits.FromCredits(3m)), await chain.OpenLeaseAsync(tenant: 4, provider: 1, Credits.FromCredits(3m)) };
        var members = chain.SignBundle(4, [.. bundled.Select(id => (id, Credits.FromCredits(1.5m), true))]);
        SignedVoucher[] batch =
        [
            chain.SignVoucher(0, singles[0], Credits.FromCredits(2m), isFinal: false),
            members[0],
            chain.SignVoucher(0, singles[1], Credits.FromCredits(3m), isFinal: true),
            members[1],
        ];

        var receipt = await Settlement.SettleBatchAsync(batch, CancellationToken.None);

        Assert.True(receipt.Succeeded, receipt.Error);
        Assert.Empty(receipt.Rejections!);
        var entries = EscrowBatch.DecodeEntries((await chain.GetTransactionAsync(receipt.TransactionHash)).DecodeTransactionToFunctionMessage<SettleBatchFunction>().Entries);
        Assert.Equal([1, 2, 1], entries.Select(e => e.Items.Count));
        Assert.True((await chain.GetLeaseAsync(0, singles[0])) is { Closed: false, Paid: var partial } && partial == Credits.FromCredits(2m));
        Assert.True((await chain.GetLeaseAsync(0, singles[1])) is { Closed: true, Paid: var whole } && whole == Credits.FromCredits(3m));
        foreach (var id in bundled) Assert.True((await chain.GetLeaseAsync(4, id)) is { Closed: true, Paid: var paid } && paid == Credits.FromCredits(1.5m));
        await chain.AssertConservedAsync();
    }
}
