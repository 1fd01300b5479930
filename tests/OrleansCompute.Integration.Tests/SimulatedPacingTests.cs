using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Host.Gateway;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>
/// Gateway:SimulatedPacing=false (for load tests of the gateway) takes away the simulated model time only: the answer
/// is the one the paced accelerator gives. How long either takes is left to the gateway bench, not asserted here.
/// </summary>
public sealed class SimulatedPacingTests
{
    private static readonly TokenCounter Tokens = new();

    [Theory]
    [InlineData("""{"model":"occ-simulated-llama-3.1-8b","messages":[{"role":"user","content":"Why lease a Trainium2?"}],"max_tokens":24}""")]
    [InlineData("""{"model":"occ-simulated-llama-3.1-8b","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"And an H100?"}],"stop":" the"}""")]
    public async Task An_unpaced_simulated_accelerator_answers_with_the_paced_one_s_text_usage_and_finish_reason(string request)
    {
        var paced = await AnswerAsync(new GatewayOptions(), request);
        var unpaced = await AnswerAsync(new GatewayOptions { SimulatedPacing = false }, request);

        Assert.True(new GatewayOptions().SimulatedPacing, "pacing is on unless an operator turns it off");
        var choice = paced.GetProperty("choices")[0];
        Assert.False(string.IsNullOrEmpty(choice.GetProperty("message").GetProperty("content").GetString()));
        Assert.Equal(choice.GetRawText(), unpaced.GetProperty("choices")[0].GetRawText());
        Assert.Equal(paced.GetProperty("usage").GetRawText(), unpaced.GetProperty("usage").GetRawText());
    }

    private static async Task<JsonElement> AnswerAsync(GatewayOptions options, string request)
    {
        using var body = JsonDocument.Parse(request);
        var parsed = OpenAiWire.ParseChat(body.RootElement);
        var promptTokens = Tokens.CountPromptWithin(parsed, OpenAiWire.ContextWindow - parsed.MaxTokens)!.Value;
        var http = new DefaultHttpContext();
        var response = new MemoryStream();
        http.Response.Body = response;
        var call = new InferenceCall(parsed, body.RootElement.Clone(), Chat: true, promptTokens, AcceleratorCatalog.Require("trainium2"), ConcurrencyPerSlot: 8);

        var meter = new UsageMeter();
        await new SimulatedAccelerator(Tokens, Options.Create(options)).AnswerAsync(http, call, meter);

        var answer = JsonDocument.Parse(response.ToArray()).RootElement;
        Assert.Equal((meter.PromptTokens, meter.CompletionTokens),
            (answer.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), answer.GetProperty("usage").GetProperty("completion_tokens").GetInt32()));
        return answer;
    }
}
