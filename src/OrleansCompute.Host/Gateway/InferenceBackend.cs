using System.Text.Json;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Inference;

namespace OrleansCompute.Host.Gateway;

/// <summary>
/// One admitted request: what was asked (parsed and raw), its prompt's tokens as the gateway counted them to admit it, and
/// the accelerator of the lease it runs on.
/// </summary>
public sealed record InferenceCall(CompletionRequest Request, JsonElement Body, bool Chat, int PromptTokens, AcceleratorProfile Profile, int ConcurrencyPerSlot);

/// <summary>The tokens one request has used so far; the gateway meters whatever it holds when the request ends, even cut short.</summary>
public sealed class UsageMeter
{
    public int PromptTokens { get; set; }
    public int CompletionTokens { get; set; }
    public InferenceUsage Usage => new(PromptTokens, CompletionTokens);
}

/// <summary>What answers a lease's requests: the simulated accelerator, or a real OpenAI-compatible server upstream.</summary>
public interface IInferenceBackend
{
    /// <summary>The model id this backend serves, as <c>/v1/models</c> lists it and requests must name it.</summary>
    string ModelId { get; }

    /// <summary>Who <c>/v1/models</c> says owns the model: it says "simulated" for the simulated accelerator.</summary>
    string OwnedBy(AcceleratorProfile profile);

    /// <summary>Answers the request on the response, streaming it when asked, and keeps <paramref name="meter"/> current.</summary>
    Task AnswerAsync(HttpContext http, InferenceCall call, UsageMeter meter);
}
