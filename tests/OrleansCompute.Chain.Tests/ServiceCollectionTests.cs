using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Signing;
using OrleansCompute.Chain.Tests.Fixtures;
using Xunit;

namespace OrleansCompute.Chain.Tests;

[Collection(ChainCollection.Name)]
public sealed class ServiceCollectionTests(ChainFixture chain)
{
    private ChainOptions Options(string operatorKey) => new()
    {
        RpcUrl = chain.Anvil.RpcUrl,
        ChainId = ChainFixture.ChainId,
        CreditAddress = chain.Contracts.CreditAddress,
        EscrowAddress = chain.Contracts.EscrowAddress,
        // A key of its own: the fixture's operator sender must stay the only owner of the operator key.
        OperatorPrivateKey = operatorKey,
        DeployBlock = chain.Contracts.DeployBlock,
        EventPollInterval = TimeSpan.FromMilliseconds(50),
    };

    [Fact]
    public async Task The_registered_services_settle_verify_and_watch_against_the_chain()
    {
        var operatorKey = await chain.NewFundedKeyAsync();
        var services = new ServiceCollection().AddLogging();
        services.AddEscrowChain(Options(operatorKey)).AddEscrowEventWatcher<CountingSink>();
        await using var provider = services.BuildServiceProvider();

        var leaseId = await chain.OpenLeaseAsync(tenant: 1, provider: 0, Credits.FromCredits(3m));
        var voucher = chain.SignVoucher(tenant: 1, leaseId, Credits.FromCredits(2m), isFinal: true);
        Assert.Equal(chain.Tenants[1].Address, provider.GetRequiredService<IVoucherVerifier>().RecoverSigner(voucher));
        var settlement = provider.GetRequiredService<IEscrowSettlement>();

        // A key the escrow's owner has not named a settler has its final vouchers refused, by name, and nothing changes.
        var refused = await settlement.SettleBatchAsync([voucher], CancellationToken.None);
        Assert.True(refused.Succeeded, refused.Error);
        Assert.Equal([new SettlementRejection(leaseId, "NotSettler")], refused.Rejections);
        Assert.False((await chain.Escrow.GetLeaseAsync(leaseId, chain.Tenants[1].Address, chain.ChannelOf(leaseId)))!.Closed);

        var settler = new Nethereum.Signer.EthECKey(operatorKey).GetPublicAddress();
        await chain.Escrow.SetSettlerAsync(chain.Deployer, settler);
        Assert.True(await chain.Escrow.IsSettlerAsync(settler));
        var receipt = await settlement.SettleBatchAsync([voucher], CancellationToken.None);
        Assert.True(receipt.Succeeded, receipt.Error);
        Assert.Empty(receipt.Rejections ?? []);
        Assert.Equal(new Nethereum.Signer.EthECKey(operatorKey).GetPublicAddress(), provider.GetRequiredService<TransactionSender>().Address);

        var hosted = provider.GetServices<IHostedService>().Single();
        await hosted.StartAsync(CancellationToken.None);
        try
        {
            var watcher = provider.GetRequiredService<EscrowEventWatcher>();
            await watcher.WaitForBlockAsync(receipt.BlockNumber, new CancellationTokenSource(TimeSpan.FromSeconds(15)).Token);
            var sink = (CountingSink)provider.GetRequiredService<IEscrowEventSink>();
            Assert.Contains(leaseId, sink.Closed);
        }
        finally
        {
            await hosted.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public void Missing_settings_are_named_at_registration()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddEscrowChain(new ChainOptions()));

        Assert.Contains(nameof(ChainOptions.EscrowAddress), error.Message);
        Assert.Contains(nameof(ChainOptions.OperatorPrivateKey), error.Message);
    }

    private sealed class CountingSink : IEscrowEventSink
    {
        public List<Guid> Closed { get; } = [];
        public Task OnLeaseOpenedAsync(EscrowLeaseOpened opened, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task OnLeaseSettledAsync(EscrowLeaseSettled settled, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task OnLeaseClosedAsync(EscrowLeaseClosed closed, CancellationToken cancellationToken)
        {
            lock (Closed) Closed.Add(closed.LeaseId);
            return Task.CompletedTask;
        }
        public Task OnWithdrawnAsync(EscrowWithdrawn withdrawn, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task OnRolledBackAsync(EscrowEvent rolledBack, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
