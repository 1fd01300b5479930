using Microsoft.Extensions.Logging;
using Nethereum.ABI.FunctionEncoding;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;
using Nethereum.JsonRpc.Client;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using Polly;

namespace OrleansCompute.Chain.Rpc;

/// <summary>
/// A JSON-RPC endpoint plus the resilience pipeline that every call to it goes through.
/// Nethereum's calls take no cancellation token, so each attempt is awaited with one
/// (<see cref="Task.WaitAsync(CancellationToken)"/>): a hung request is abandoned at the attempt timeout instead of blocking the caller.
/// </summary>
public sealed class ChainRpc
{
    public ChainRpc(string rpcUrl, RpcResilienceOptions? resilience = null, ILogger? logger = null)
        : this(new Web3(new RpcClient(new Uri(rpcUrl))), RpcResilience.CreatePipeline(resilience ?? new RpcResilienceOptions(), logger))
    {
        RpcUrl = rpcUrl;
    }

    public ChainRpc(IWeb3 web3, ResiliencePipeline pipeline)
    {
        Web3 = web3;
        Pipeline = pipeline;
        RpcUrl = string.Empty;
    }

    public string RpcUrl { get; }

    /// <summary>The raw Nethereum client. Call it through <see cref="CallAsync{T}"/> so that timeouts and retries apply.</summary>
    public IWeb3 Web3 { get; }

    public ResiliencePipeline Pipeline { get; }

    public async Task<T> CallAsync<T>(Func<IWeb3, Task<T>> call, CancellationToken cancellationToken = default) =>
        await Pipeline.ExecuteAsync(
            static async (state, token) => await state.call(state.web3).WaitAsync(token),
            (call, web3: Web3),
            cancellationToken);

    public async Task CallAsync(Func<IWeb3, Task> call, CancellationToken cancellationToken = default) =>
        await Pipeline.ExecuteAsync(
            static async (state, token) => await state.call(state.web3).WaitAsync(token),
            (call, web3: Web3),
            cancellationToken);

    /// <summary>The latest block's timestamp: "now" as contracts judge expiries and claim windows, not the wall clock.</summary>
    public async Task<DateTimeOffset> GetLatestBlockTimeAsync(CancellationToken cancellationToken = default)
    {
        var block = await CallAsync(web3 => web3.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(BlockParameter.CreateLatest()), cancellationToken);
        return DateTimeOffset.FromUnixTimeSeconds((long)block.Timestamp.Value);
    }

    /// <summary>eth_call of a view function returning one value; a revert becomes a <see cref="ChainRevertException"/>.</summary>
    public Task<TResult> QueryAsync<TFunction, TResult>(string contractAddress, TFunction function, CancellationToken cancellationToken = default, BlockParameter? block = null)
        where TFunction : FunctionMessage, new() =>
        WithNamedReverts(() => CallAsync(
            web3 => web3.Eth.GetContractQueryHandler<TFunction>().QueryAsync<TResult>(contractAddress, function, block ?? BlockParameter.CreateLatest()),
            cancellationToken));

    /// <summary>eth_call of a view function returning several values, decoded into <typeparamref name="TOutput"/>.</summary>
    public Task<TOutput> QueryOutputAsync<TFunction, TOutput>(string contractAddress, TFunction function, CancellationToken cancellationToken = default, BlockParameter? block = null)
        where TFunction : FunctionMessage, new()
        where TOutput : IFunctionOutputDTO, new() =>
        WithNamedReverts(() => CallAsync(
            web3 => web3.Eth.GetContractQueryHandler<TFunction>().QueryDeserializingToObjectAsync<TOutput>(function, contractAddress, block ?? BlockParameter.CreateLatest()),
            cancellationToken));

    private static async Task<T> WithNamedReverts<T>(Func<Task<T>> query)
    {
        try
        {
            return await query();
        }
        catch (SmartContractCustomErrorRevertException revert)
        {
            throw RevertDecoder.Decode(revert.ExceptionEncodedData, transactionHash: null, revert);
        }
        catch (SmartContractRevertException revert)
        {
            throw RevertDecoder.Decode(revert.EncodedData, transactionHash: null, revert);
        }
    }
}
