using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Tests.Fixtures;
using Xunit;

namespace OrleansCompute.Chain.Tests;

/// <summary>
/// <c>Chain:Confirmations</c>: the market counts a funding or a settlement as final only once its block is that many blocks
/// deep, so that a shallow reorganization never reaches the grains. On Anvil, which mines a block per transaction, the
/// test mines the blocks above by hand.
/// </summary>
[Collection(ChainCollection.Name)]
public sealed class WatcherConfirmationsTests(ChainFixture chain)
{
    [Fact]
    public async Task An_event_reaches_the_market_only_once_its_block_is_the_configured_depth_deep()
    {
        const int depth = 2;
        var start = await chain.LatestBlockAsync() + 1;
        // Blocks of the watcher's own below the opening, so that the head less the depth is one it reads however few
        // transactions the opening takes.
        for (var i = 0; i < depth; i++) await chain.Cheats.MineAsync();
        var sink = new FoldingSink();
        var watcher = new EscrowEventWatcher(new EscrowEventReader(chain.Rpc, chain.Contracts.EscrowAddress), sink,
            new EscrowEventWatcherOptions { StartBlock = start, PollInterval = TimeSpan.FromMilliseconds(50), Confirmations = depth },
            cursor: new StoredCursor());
        await watcher.StartAsync(CancellationToken.None);
        try
        {
            var leaseId = await chain.OpenLeaseAsync(tenant: 0, provider: 0, Credits.FromCredits(30m));
            var opened = await chain.LatestBlockAsync();

            // The watcher reads up to the head less the depth, and no further, however many times it polls.
            await watcher.WaitForBlockAsync(opened - depth, Patiently.Timeout());
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            Assert.Equal(opened - depth, watcher.LastProcessedBlock);
            Assert.DoesNotContain(sink.Folded, e => e is EscrowLeaseOpened o && o.LeaseId == leaseId);

            await chain.Cheats.MineAsync();
            await watcher.WaitForBlockAsync(opened - 1, Patiently.Timeout());
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            Assert.DoesNotContain(sink.Folded, e => e is EscrowLeaseOpened o && o.LeaseId == leaseId);

            // Two blocks above it: the opening is final, and the market hears of it.
            await chain.Cheats.MineAsync();
            await watcher.WaitForBlockAsync(opened, Patiently.Timeout());
            var delivered = Assert.Single(sink.Folded, e => e is EscrowLeaseOpened o && o.LeaseId == leaseId);
            Assert.Equal(opened, delivered.BlockNumber);
            Assert.Equal(opened, watcher.LastProcessedBlock);
        }
        finally
        {
            await watcher.StopAsync(CancellationToken.None);
        }
    }
}
