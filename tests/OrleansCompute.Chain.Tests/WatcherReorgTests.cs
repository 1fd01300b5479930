using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Tests.Fixtures;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>
/// The watcher against a real Anvil that reorganizes on demand (<c>anvil_reorg</c>: the latest blocks are replaced by
/// empty ones, their transactions dropped). A chain of its own: a reorganization would pull blocks from under other tests.
/// </summary>
[Collection(ReorgChainCollection.Name)]
public sealed class WatcherReorgTests(ChainFixture chain)
{
    private EscrowEventReader Reader() => new(chain.Rpc, chain.Contracts.EscrowAddress);

    private EscrowEventWatcher Watcher(long start, IEscrowEventSink sink, IEscrowEventCursor cursor)
    {
        var watcher = new EscrowEventWatcher(Reader(), sink,
            new EscrowEventWatcherOptions { StartBlock = start, PollInterval = TimeSpan.FromMilliseconds(50) },
            cursor: cursor);
        // As the host wires it: the operator's settlements in the replaced blocks are gone, and so are their nonces.
        watcher.Reorganized += _ => chain.Operator.ResyncNonce();
        return watcher;
    }

    [Fact]
    public async Task Events_of_replaced_blocks_are_rolled_back_newest_first_and_the_new_blocks_are_folded_in()
    {
        var start = await chain.LatestBlockAsync() + 1;
        var sink = new FoldingSink();
        var cursor = new StoredCursor();
        var watcher = Watcher(start, sink, cursor);
        await watcher.StartAsync(CancellationToken.None);
        try
        {
            var leaseId = await chain.OpenLeaseAsync(tenant: 0, provider: 0, Credits.FromCredits(30m));
            var opened = await chain.LatestBlockAsync();
            await chain.Escrow.SettleAsync(chain.Operator, chain.SignVoucher(0, leaseId, Credits.FromCredits(12m), isFinal: false));
            await chain.Escrow.SettleAsync(chain.Operator, chain.SignVoucher(0, leaseId, Credits.FromCredits(20m), isFinal: true));
            var settled = await chain.LatestBlockAsync();
            await watcher.WaitForBlockAsync(settled, Patiently.Timeout());
            var delivered = sink.Folded;
            Assert.Equal(["LeaseOpened", "LeaseSettled", "LeaseSettled", "LeaseClosed"], delivered.Select(Kind));

            await chain.Cheats.ReorgAsync(depth: (int)(settled - opened));
            await Patiently.UntilAsync(() => watcher.Reorganizations == 1, "the reorganization to be rolled back");

            Assert.Equal(delivered.Skip(1).Reverse(), sink.RolledBack);
            Assert.Equal(delivered.Take(1), sink.Folded);
            Assert.Equal((opened, settled, 2L, 3), (watcher.LastReorganization!.CommonAncestor, watcher.LastReorganization.NewestBlockRead,
                watcher.LastReorganization.Depth, watcher.LastReorganization.EventsRolledBack));
            Assert.Equal(Credits.Zero, (await chain.GetLeaseAsync(0, leaseId))!.Paid);

            // The lease is settled again on the new chain: a payment of the whole 20, not of what the dropped blocks had left.
            await chain.Escrow.SettleAsync(chain.Operator, chain.SignVoucher(0, leaseId, Credits.FromCredits(20m), isFinal: true));
            var resettled = await chain.LatestBlockAsync();
            await watcher.WaitForBlockAsync(resettled, Patiently.Timeout());

            var again = Assert.IsType<EscrowLeaseSettled>(sink.Folded[1]);
            Assert.Equal((Credits.FromCredits(20m), Credits.FromCredits(20m)), (again.Amount, again.TotalPaid));
            Assert.Equal(await Reader().ReadAsync(start, resettled), sink.Folded);
            Assert.DoesNotContain((await cursor.LoadAsync(CancellationToken.None))!.RecentBlocks,
                block => delivered.Skip(1).Any(e => e.BlockHash == block.Hash));
            await chain.AssertConservedAsync();
        }
        finally
        {
            await watcher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_restarted_watcher_rolls_back_a_reorganization_that_happened_while_it_was_stopped()
    {
        var start = await chain.LatestBlockAsync() + 1;
        var sink = new FoldingSink();
        var cursor = new StoredCursor();
        var leaseId = await chain.OpenLeaseAsync(tenant: 1, provider: 1, Credits.FromCredits(10m));
        await chain.Escrow.SettleAsync(chain.Operator, chain.SignVoucher(1, leaseId, Credits.FromCredits(4m), isFinal: true));
        var settled = await chain.LatestBlockAsync();

        var before = Watcher(start, sink, cursor);
        await before.StartAsync(CancellationToken.None);
        await before.WaitForBlockAsync(settled, Patiently.Timeout());
        await before.StopAsync(CancellationToken.None);
        var delivered = sink.Folded;

        await chain.Cheats.ReorgAsync(depth: 1);
        var after = Watcher(start, sink, cursor);
        await after.StartAsync(CancellationToken.None);
        try
        {
            await Patiently.UntilAsync(() => after.Reorganizations == 1, "the restarted watcher to roll back the reorganization");

            Assert.Equal(settled + 1, after.ResumedFromBlock);
            Assert.Equal(["LeaseClosed", "LeaseSettled"], sink.RolledBack.Select(Kind));
            Assert.Equal(delivered.Skip(1).Reverse(), sink.RolledBack);
            Assert.Equal(["LeaseOpened"], sink.Folded.Select(Kind));
            Assert.Equal(settled - 1, after.LastReorganization!.CommonAncestor);
        }
        finally
        {
            await after.StopAsync(CancellationToken.None);
        }
    }

    private static string Kind(EscrowEvent e) => e.GetType().Name["Escrow".Length..];
}

[CollectionDefinition(Name)]
public sealed class ReorgChainCollection : ICollectionFixture<ChainFixture>
{
    public const string Name = "Anvil chain that reorganizes";
}
