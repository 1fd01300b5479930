using System.Numerics;
using Nethereum.ABI.FunctionEncoding;
using Nethereum.ABI.Model;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.JsonRpc.Client;
using OrleansCompute.Chain.Contracts;

namespace OrleansCompute.Chain.Rpc;

/// <summary>Turns revert data (4-byte selector + ABI-encoded arguments) into a named <see cref="ChainRevertException"/>.</summary>
public static class RevertDecoder
{
    // Error(string) and Panic(uint256) are what Solidity emits for revert strings and failed checks.
    private const string ErrorStringSelector = "0x08c379a0";
    private const string PanicSelector = "0x4e487b71";

    private static readonly IReadOnlyList<(ErrorABI Abi, Type Type)> KnownErrors =
        ContractErrors.All.Select(type => (ABITypedRegistry.GetError(type), type)).ToArray();

    /// <param name="reasonWithoutData">What the node said when there is no revert data (e.g. "out of gas").</param>
    public static ChainRevertException Decode(string? revertData, string? transactionHash, Exception? innerException = null, string? reasonWithoutData = null)
    {
        if (string.IsNullOrEmpty(revertData) || !revertData.IsHex() || revertData.RemoveHexPrefix().Length < 8)
        {
            ChainErrorArgument[] reason = reasonWithoutData is null ? [] : [new ChainErrorArgument("reason", "string", reasonWithoutData)];
            return new ChainRevertException("Revert", reason, revertData, transactionHash, null, innerException);
        }

        var data = revertData.EnsureHexPrefix().ToLowerInvariant();
        var selector = data[..10];
        var decoder = new FunctionCallDecoder();

        if (selector == ErrorStringSelector)
        {
            var reason = decoder.DecodeFunctionErrorMessage(data);
            return new ChainRevertException("Error", [new ChainErrorArgument("reason", "string", reason)], data, transactionHash, null, innerException);
        }
        if (selector == PanicSelector)
        {
            var code = new BigInteger(data[10..].HexToByteArray(), isUnsigned: true, isBigEndian: true);
            return new ChainRevertException("Panic", [new ChainErrorArgument("code", "uint256", code)], data, transactionHash, null, innerException);
        }

        foreach (var (abi, type) in KnownErrors)
        {
            if (!abi.IsExceptionEncodedDataForError(data)) continue;
            var arguments = abi.DecodeExceptionEncodedDataToDefault(data)
                .OrderBy(output => output.Parameter.Order)
                .Select(output => new ChainErrorArgument(output.Parameter.Name, output.Parameter.Type, output.Result))
                .ToArray();
            var typed = data.DecodeExceptionEncodedData(type);
            return new ChainRevertException(abi.Name, arguments, data, transactionHash, typed, innerException);
        }
        return new ChainRevertException($"Unknown({selector})", [], data, transactionHash, null, innerException);
    }

    /// <summary>
    /// Recognises a revert in a node's error answer (eth_estimateGas or eth_call). Returns null for any other error.
    /// Anvil answers code 3 with the revert data in <c>data</c>; other nodes put it in <c>data.data</c> or say only "execution reverted".
    /// </summary>
    public static ChainRevertException? TryFromRpcError(RpcResponseException exception, string? transactionHash = null)
    {
        var error = exception.RpcError;
        string? data = null;
        try
        {
            data = error.Data is null ? null : error.GetDataAsString();
        }
        catch (Exception)
        {
            // Data that is neither a string nor a known object shape carries no revert data.
        }
        var hasRevertData = data is not null && data.IsHex() && data.RemoveHexPrefix().Length >= 8;
        var saysRevert = error.Code == 3 || (error.Message?.Contains("revert", StringComparison.OrdinalIgnoreCase) ?? false);
        if (!hasRevertData && !saysRevert) return null;
        return Decode(hasRevertData ? data : null, transactionHash, exception);
    }
}
