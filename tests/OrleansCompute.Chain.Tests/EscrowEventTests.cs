using Microsoft.Extensions.Logging.Abstractions;
using Nethereum.JsonRpc.Client;
using Nethereum.Web3;
using OrleansCompute.Abstractions;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Tests.Fixtures;
using Xunit;

namespace OrleansCompute.Chain.Tests;

[Collection(ChainCollection.Name)]
public sealed class EscrowEventTests(ChainFixture chain)
{
    private EscrowEventReader Reader(ChainRpc? rpc = null) => new(rpc ?? chain.Rpc, chain.Contracts.EscrowAddress);

    /// <summary>Opens a lease, settles part, settles the rest with a final voucher, and withdraws: all four events.</summary>
    private async Task<(Guid LeaseId, long FromBlock, long ToBlock)> RunALeaseAsync(int tenant, int provider)
    {
        var from = await chain.LatestBlockAsync() + 1;
        var leaseId = await chain.OpenLeaseAsync(tenant, provider, Credits.FromCredits(30m));
        await chain.Escrow.SettleAsync(chain.Operator, chain.SignVoucher(tenant, leaseId, Credits.FromCredits(12m), isFinal: false));
        await chain.Escrow.SettleAsync(chain.Operator, chain.SignVoucher(tenant, leaseId, Credits.FromCredits(20m), isFinal: true));
        await chain.Escrow.WithdrawAsync(chain.Providers[provider]);
        return (leaseId, from, await chain.LatestBlockAsync());
    }

    [Fact]
    public async Task The_reader_returns_the_four_events_in_order_with_lease_ids_and_amounts()
    {
        var (leaseId, from, to) = await RunALeaseAsync(tenant: 3, provider: 2);

        var events = await Reader().ReadAsync(from, to);

        var tenant = chain.Tenants[3].Address;
        var provider = chain.Providers[2].Address;
        Assert.Collection(events,
            e =>
            {
                var opened = Assert.IsType<EscrowLeaseOpened>(e);
                Assert.Equal(leaseId, opened.LeaseId);
                Assert.Equal(tenant, opened.Tenant);
                Assert.Equal(provider, opened.Provider);
                Assert.Equal(Credits.FromCredits(30m), opened.Deposit);
                Assert.True(opened.Expiry > DateTimeOffset.UnixEpoch);
            },
            e =>
            {
                Assert.Equal(new { Id = leaseId, Amount = Credits.FromCredits(12m), Total = Credits.FromCredits(12m) }, Settled(e));
                Assert.Equal(provider, ((EscrowLeaseSettled)e).Provider);
                Assert.Equal(tenant, ((EscrowLeaseSettled)e).Tenant);
            },
            e => Assert.Equal(new { Id = leaseId, Amount = Credits.FromCredits(8m), Total = Credits.FromCredits(20m) }, Settled(e)),
            e =>
            {
                var closed = Assert.IsType<EscrowLeaseClosed>(e);
                Assert.Equal(leaseId, closed.LeaseId);
                Assert.Equal(tenant, closed.Tenant);
                Assert.Equal(Credits.FromCredits(10m), closed.Refund);
            },
            e =>
            {
                var withdrawn = Assert.IsType<EscrowWithdrawn>(e);
                Assert.Equal(provider, withdrawn.Provider);
                Assert.True(withdrawn.Amount >= Credits.FromCredits(20m) - ChainFixture.Fee(Credits.FromCredits(20m)));
            });
        Assert.All(events, e => Assert.StartsWith("0x", e.TransactionHash));
        Assert.Equal(events.OrderBy(e => e.BlockNumber).ThenBy(e => e.LogIndex), events);
    }

    [Fact]
    public async Task A_batch_yields_one_settlement_per_lease_and_a_reader_started_after_the_openings_resolves_them()
    {
        var first = await chain.OpenLeaseAsync(tenant: 0, provider: 0, Credits.FromCredits(30m));
        var second = await chain.OpenLeaseAsync(tenant: 1, provider: 1, Credits.FromCredits(10m));
        await chain.Escrow.SettleAsync(chain.Operator, chain.SignVoucher(0, first, Credits.FromCredits(12m), isFinal: false));
        var from = await chain.LatestBlockAsync() + 1;
        await chain.Escrow.SettleBatchAsync(chain.Operator,
        [
            chain.SignVoucher(0, first, Credits.FromCredits(20m), isFinal: true),
            chain.SignVoucher(1, second, Credits.FromCredits(5m), isFinal: false),
        ]);
        var to = await chain.LatestBlockAsync();

        // A fresh reader that never saw the openings nor the first settlement.
        var events = await Reader().ReadAsync(from, to);

        Assert.Collection(events,
            e =>
            {
                Assert.Equal(new { Id = first, Amount = Credits.FromCredits(8m), Total = Credits.FromCredits(20m) }, Settled(e));
                Assert.Equal((chain.Providers[0].Address, chain.Tenants[0].Address, 0), (((EscrowLeaseSettled)e).Provider, ((EscrowLeaseSettled)e).Tenant, e.Item));
            },
            e =>
            {
                Assert.Equal(new { Id = second, Amount = Credits.FromCredits(5m), Total = Credits.FromCredits(5m) }, Settled(e));
                Assert.Equal((chain.Providers[1].Address, chain.Tenants[1].Address, 1), (((EscrowLeaseSettled)e).Provider, ((EscrowLeaseSettled)e).Tenant, e.Item));
                Assert.Equal(events[0].LogIndex, e.LogIndex);
            },
            e => Assert.Equal((first, Credits.FromCredits(10m)), (Assert.IsType<EscrowLeaseClosed>(e).LeaseId, ((EscrowLeaseClosed)e).Refund)));
        Assert.Equal(events, await Reader().ReadAsync(from, to));
    }

    private static object Settled(EscrowEvent e)
    {
        var settled = Assert.IsType<EscrowLeaseSettled>(e);
        return new { Id = settled.LeaseId, Amount = settled.Amount, Total = settled.TotalPaid };
    }

    [Fact]
    public async Task The_watcher_delivers_each_event_to_the_sink_exactly_once_in_order()
    {
        var start = await chain.LatestBlockAsync() + 1;
        var sink = new RecordingSink();
        var watcher = new EscrowEventWatcher(Reader(), sink, new EscrowEventWatcherOptions { StartBlock = start, PollInterval = TimeSpan.FromMilliseconds(50) });
        await watcher.StartAsync(CancellationToken.None);
        try
        {
            var (_, _, firstEnd) = await RunALeaseAsync(tenant: 0, provider: 0);
            await watcher.WaitForBlockAsync(firstEnd, Patiently.Timeout());
            var (_, _, end) = await RunALeaseAsync(tenant: 1, provider: 1);
            await watcher.WaitForBlockAsync(end, Patiently.Timeout());

            var expected = await Reader().ReadAsync(start, end);
            Assert.Equal(10, expected.Count);
            Assert.Equal(expected, sink.Events);
            Assert.True(watcher.LastProcessedBlock >= end);
        }
        finally
        {
            await watcher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task After_a_sink_failure_the_watcher_resumes_at_the_failed_event_without_repeating_earlier_ones()
    {
        var start = await chain.LatestBlockAsync() + 1;
        var sink = new RecordingSink { FailOnCall = 3 };
        var watcher = new EscrowEventWatcher(Reader(), sink, new EscrowEventWatcherOptions { StartBlock = start, PollInterval = TimeSpan.FromMilliseconds(50) });
        var (_, _, end) = await RunALeaseAsync(tenant: 2, provider: 0);

        await watcher.StartAsync(CancellationToken.None);
        try
        {
            await watcher.WaitForBlockAsync(end, Patiently.Timeout());

            Assert.Equal(await Reader().ReadAsync(start, end), sink.Events);
            Assert.Equal(1, sink.Failures);
        }
        finally
        {
            await watcher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task The_watcher_survives_rpc_errors_and_catches_up()
    {
        var start = await chain.LatestBlockAsync() + 1;
        var (_, _, end) = await RunALeaseAsync(tenant: 4, provider: 1);
        var client = new RpcClient(new Uri(chain.Anvil.RpcUrl)) { OverridingRequestInterceptor = new FailingFirstCalls(4) };
        var flaky = new ChainRpc(new Web3(client), RpcResilience.CreatePipeline(new RpcResilienceOptions { MaxRetryAttempts = 0 }));
        var sink = new RecordingSink();
        var watcher = new EscrowEventWatcher(Reader(flaky), sink, new EscrowEventWatcherOptions { StartBlock = start, PollInterval = TimeSpan.FromMilliseconds(50) }, NullLogger<EscrowEventWatcher>.Instance);

        await watcher.StartAsync(CancellationToken.None);
        try
        {
            await watcher.WaitForBlockAsync(end, Patiently.Timeout());

            Assert.Equal(await Reader().ReadAsync(start, end), sink.Events);
            Assert.False(watcher.ExecuteTask?.IsFaulted);
        }
        finally
        {
            await watcher.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Answers the first calls with a node error, as a node that is restarting would.</summary>
    private sealed class FailingFirstCalls(int failures) : RequestInterceptor
    {
        private int _remaining = failures;

        public override Task<object> InterceptSendRequestAsync<T>(Func<RpcRequest, string, Task<T>> interceptedSendRequestAsync, RpcRequest request, string? route = null) =>
            Interlocked.Decrement(ref _remaining) >= 0
                ? throw new RpcClientUnknownException("connection refused", new HttpRequestException("connection refused"))
                : base.InterceptSendRequestAsync(interceptedSendRequestAsync, request, route);

        public override Task<object> InterceptSendRequestAsync<T>(Func<string, string, object[], Task<T>> interceptedSendRequestAsync, string method, string? route = null, params object[] paramList) =>
            Interlocked.Decrement(ref _remaining) >= 0
                ? throw new RpcClientUnknownException("connection refused", new HttpRequestException("connection refused"))
                : base.InterceptSendRequestAsync(interceptedSendRequestAsync, method, route, paramList);
    }
}
