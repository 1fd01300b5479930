using Nethereum.JsonRpc.Client;
using Nethereum.JsonRpc.Client.RpcMessages;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
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

    private EscrowEventWatcher Watcher(long start, IEscrowEventSink sink, IEscrowEventCursor cursor, int maxBlocksPerPoll = 2_000)
    {
        var watcher = new EscrowEventWatcher(Reader(), sink,
            new EscrowEventWatcherOptions { StartBlock = start, PollInterval = TimeSpan.FromMilliseconds(50), MaxBlocksPerPoll = maxBlocksPerPoll },
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

    [Fact]
    public async Task A_reorganization_while_one_range_of_a_poll_is_delivered_is_rolled_back_before_the_next_range_is_read()
    {
        var start = await chain.LatestBlockAsync() + 1;
        var leaseId = await chain.OpenLeaseAsync(tenant: 2, provider: 0, Credits.FromCredits(10m));
        var opened = await chain.LatestBlockAsync();
        await chain.Escrow.SettleAsync(chain.Operator, chain.SignVoucher(2, leaseId, Credits.FromCredits(6m), isFinal: true));
        var settled = await chain.LatestBlockAsync();
        for (var i = 0; i < 3; i++) await chain.Cheats.MineAsync();
        var head = await chain.LatestBlockAsync();

        // One poll reads the five blocks a block at a time; while it delivers the close, the chain drops the settlement's
        // block and those after it, so the ranges after it are read from the new chain.
        var reorganized = 0;
        var sink = new FoldingSink
        {
            BeforeFold = async e =>
            {
                if (e is EscrowLeaseClosed && Interlocked.Exchange(ref reorganized, 1) == 0) await chain.Cheats.ReorgAsync(depth: (int)(head - settled + 1));
            },
        };
        var watcher = Watcher(start, sink, new StoredCursor(), maxBlocksPerPoll: 1);
        await watcher.StartAsync(CancellationToken.None);
        try
        {
            await watcher.WaitForBlockAsync(head, Patiently.Timeout());

            Assert.Equal(1, reorganized);
            Assert.Equal(1, watcher.Reorganizations);
            Assert.Equal(opened, watcher.LastReorganization!.CommonAncestor);
            Assert.Equal(["LeaseClosed", "LeaseSettled"], sink.RolledBack.Select(Kind));
            Assert.Equal(await Reader().ReadAsync(start, head), sink.Folded);
            var onChain = await chain.GetLeaseAsync(2, leaseId);
            Assert.Equal((Credits.Zero, false), (onChain!.Paid, onChain.Closed));
        }
        finally
        {
            await watcher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Events_of_blocks_replaced_while_their_range_was_read_are_never_delivered()
    {
        var start = await chain.LatestBlockAsync() + 1;
        var leaseId = await chain.OpenLeaseAsync(tenant: 2, provider: 1, Credits.FromCredits(10m));
        await chain.Escrow.SettleAsync(chain.Operator, chain.SignVoucher(2, leaseId, Credits.FromCredits(3m), isFinal: true));
        var settled = await chain.LatestBlockAsync();
        await chain.Cheats.MineAsync();
        var head = await chain.LatestBlockAsync();

        // The node answers the watcher's eth_getLogs for the settlement's block, then drops that block and the next.
        var reorganized = 0;
        var node = new HookedNode(new Uri(chain.Anvil.RpcUrl), afterLogs: async to =>
        {
            if (to >= settled && Interlocked.Exchange(ref reorganized, 1) == 0) await chain.Cheats.ReorgAsync(depth: (int)(head - settled + 1));
        });
        var reader = new EscrowEventReader(new ChainRpc(new Web3(node), RpcResilience.CreatePipeline(new RpcResilienceOptions())), chain.Contracts.EscrowAddress);
        var sink = new FoldingSink();
        var watcher = new EscrowEventWatcher(reader, sink, new EscrowEventWatcherOptions { StartBlock = start, PollInterval = TimeSpan.FromMilliseconds(50) });
        await watcher.StartAsync(CancellationToken.None);
        try
        {
            await watcher.WaitForBlockAsync(head, Patiently.Timeout());
            // Nothing on chain says the operator's settlement is gone: no event of it was delivered, so none was rolled back.
            chain.Operator.ResyncNonce();

            Assert.Equal(1, reorganized);
            Assert.Empty(sink.RolledBack);
            Assert.Equal(0, watcher.Reorganizations);
            Assert.Equal(["LeaseOpened"], sink.Folded.Select(Kind));
            Assert.Equal(await Reader().ReadAsync(start, head), sink.Folded);
        }
        finally
        {
            await watcher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task The_common_ancestor_is_below_every_replaced_block_even_when_the_blocks_remembered_come_from_two_chains()
    {
        var start = await chain.LatestBlockAsync() + 1;
        var sink = new FoldingSink();
        var cursor = new StoredCursor();
        var leaseId = await chain.OpenLeaseAsync(tenant: 3, provider: 1, Credits.FromCredits(10m));
        var opened = await chain.LatestBlockAsync();
        await chain.Escrow.SettleAsync(chain.Operator, chain.SignVoucher(3, leaseId, Credits.FromCredits(5m), isFinal: true));
        var settled = await chain.LatestBlockAsync();
        await chain.Cheats.MineAsync();
        await chain.Cheats.MineAsync();
        var head = await chain.LatestBlockAsync();

        var before = Watcher(start, sink, cursor);
        await before.StartAsync(CancellationToken.None);
        await before.WaitForBlockAsync(head, Patiently.Timeout());
        await before.StopAsync(CancellationToken.None);
        var delivered = sink.Folded;

        // What a watcher that read on across a reorganization without noticing it would have kept: the settlement's block
        // from the replaced chain, the blocks after it from the new one. Then a shallower reorganization replaces the newest.
        await chain.Cheats.ReorgAsync(depth: (int)(head - settled + 1));
        var saved = (await cursor.LoadAsync(CancellationToken.None))!;
        List<WatchedBlock> mixed = [.. saved.RecentBlocks.Where(block => block.Number <= settled)];
        for (var number = settled + 1; number <= head; number++) mixed.Add(new WatchedBlock(number, (await Reader().GetBlockHashAsync(number))!, []));
        await cursor.SaveAsync(new EscrowWatcherCheckpoint(head, mixed), CancellationToken.None);
        await chain.Cheats.ReorgAsync(depth: 1);

        var after = Watcher(start, sink, cursor);
        await after.StartAsync(CancellationToken.None);
        try
        {
            await Patiently.UntilAsync(() => after.Reorganizations == 1, "the restarted watcher to roll back the reorganization");
            await after.WaitForBlockAsync(head, Patiently.Timeout());

            Assert.Equal(opened, after.LastReorganization!.CommonAncestor);
            Assert.Equal(delivered.Skip(1).Reverse(), sink.RolledBack);
            Assert.Equal(["LeaseOpened"], sink.Folded.Select(Kind));
        }
        finally
        {
            await after.StopAsync(CancellationToken.None);
        }
    }

    private static string Kind(EscrowEvent e) => e.GetType().Name["Escrow".Length..];

    /// <summary>Anvil's JSON-RPC, running <paramref name="afterLogs"/> (with the range's last block) after each eth_getLogs is answered.</summary>
    private sealed class HookedNode(Uri url, Func<long, Task> afterLogs) : RpcClient(url)
    {
        public override async Task<RpcResponseMessage> SendAsync(RpcRequestMessage request, string? route = null)
        {
            var response = await base.SendAsync(request, route);
            if (request.Method == "eth_getLogs" && request.RawParameters is object[] and [NewFilterInput { ToBlock.BlockNumber: { } to }, ..])
                await afterLogs((long)to.Value);
            return response;
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ReorgChainCollection : ICollectionFixture<ChainFixture>
{
    public const string Name = "Anvil chain that reorganizes";
}
