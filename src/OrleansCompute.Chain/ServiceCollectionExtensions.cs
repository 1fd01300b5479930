using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Chain;

public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers the chain client for one escrow: <see cref="ChainRpc"/>, the operator's <see cref="TransactionSender"/>
    /// (the only sender in the container: tenants' keys never reach the host), <see cref="EscrowClient"/>,
    /// <see cref="EscrowSettlement"/> as <see cref="IEscrowSettlement"/>, <see cref="VoucherSigner"/> as
    /// <see cref="IVoucherVerifier"/>, and <see cref="EscrowEventReader"/>.
    /// </summary>
    public static IServiceCollection AddEscrowChain(this IServiceCollection services, ChainOptions options)
    {
        options.Validate();
        services.TryAddSingleton(options);
        services.TryAddSingleton(sp => new ChainRpc(options.RpcUrl, options.ToResilienceOptions(), sp.GetService<ILoggerFactory>()?.CreateLogger<ChainRpc>()));
        services.TryAddSingleton(sp => new TransactionSender(
            sp.GetRequiredService<ChainRpc>(), options.OperatorPrivateKey, options.ChainId, options.ToSenderOptions(),
            sp.GetService<ILogger<TransactionSender>>()));
        services.TryAddSingleton(sp => new EscrowClient(sp.GetRequiredService<ChainRpc>(), options.EscrowAddress, options.CreditAddress));
        services.TryAddSingleton(sp => sp.GetRequiredService<EscrowClient>().Credit);
        services.TryAddSingleton<IEscrowSettlement>(sp => new EscrowSettlement(
            sp.GetRequiredService<TransactionSender>(), options.EscrowAddress, sp.GetService<ILogger<EscrowSettlement>>()));
        services.TryAddSingleton(_ => new VoucherSigner(options.ChainId, options.EscrowAddress));
        services.TryAddSingleton<IVoucherVerifier>(sp => sp.GetRequiredService<VoucherSigner>());
        services.TryAddSingleton(sp => new EscrowEventReader(
            sp.GetRequiredService<ChainRpc>(), options.EscrowAddress, sp.GetService<ILogger<EscrowEventReader>>()));
        return services;
    }

    /// <summary>
    /// Runs the <see cref="EscrowEventWatcher"/> as a hosted service delivering to <typeparamref name="TSink"/>, from
    /// <see cref="ChainOptions.DeployBlock"/> every <see cref="ChainOptions.EventPollInterval"/>. Call after <see cref="AddEscrowChain"/>.
    /// The watcher is also registered as itself, for <see cref="EscrowEventWatcher.LastProcessedBlock"/>; an
    /// <see cref="IEscrowEventCursor"/> registered before it keeps its progress across restarts, and an
    /// <see cref="IEscrowWatchLease"/> lets one host of several read the chain at a time. After a reorganization the
    /// operator's <see cref="TransactionSender"/> reads its nonce again: its transactions in the replaced blocks are gone.
    /// </summary>
    public static IServiceCollection AddEscrowEventWatcher<TSink>(this IServiceCollection services)
        where TSink : class, IEscrowEventSink
    {
        services.TryAddSingleton<IEscrowEventSink, TSink>();
        services.TryAddSingleton(sp =>
        {
            var watcher = new EscrowEventWatcher(
                sp.GetRequiredService<EscrowEventReader>(),
                sp.GetRequiredService<IEscrowEventSink>(),
                sp.GetRequiredService<ChainOptions>().ToWatcherOptions(),
                sp.GetService<ILogger<EscrowEventWatcher>>(),
                sp.GetService<IEscrowEventCursor>(),
                sp.GetService<IEscrowWatchLease>());
            var sender = sp.GetRequiredService<TransactionSender>();
            watcher.Reorganized += _ => sender.ResyncNonce();
            return watcher;
        });
        services.AddHostedService(sp => sp.GetRequiredService<EscrowEventWatcher>());
        return services;
    }
}
