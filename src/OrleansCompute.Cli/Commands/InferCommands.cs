using System.CommandLine;
using OrleansCompute.Abstractions;
using OrleansCompute.Cli.Api;
using Spectre.Console;

namespace OrleansCompute.Cli.Commands;

/// <summary><c>occ infer ID "prompt"</c>: a chat completion on the lease's slots, streamed as it arrives.</summary>
public static class InferCommands
{
    public static Command Create()
    {
        var id = new Argument<string>("id") { Description = "The active lease to run on." };
        var prompt = new Argument<string>("prompt") { Description = "What to ask." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "The most tokens to generate.", DefaultValueFactory = _ => 256 };
        var model = new Option<string?>("--model") { Description = "The model to call; by default the one the lease serves (GET /v1/models)." };
        var tenant = LeaseCommands.TenantOption();
        var command = new Command("infer", "Run a prompt on a lease's slots through the OpenAI-compatible gateway; the answer streams as it arrives and its tokens are metered on the lease.")
            { id, prompt, maxTokens, model, tenant };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var wallet = context.Tenant(parse.GetValue(tenant));
            var api = context.Api();
            var key = await api.GetLeaseKeyAsync(parse.GetValue(id)!, wallet.PrivateKey, ct);
            var inference = context.Inference();
            // A pool with an inference server of its own serves that server's model, not the simulated one.
            var modelId = parse.GetValue(model) ?? await inference.ServedModelAsync(key.ApiKey, ct);
            InferenceAnswer? answer = null;
            for (var attempt = 0; answer is null; attempt++)
            {
                try
                {
                    answer = await inference.ChatAsync(key.ApiKey, modelId, parse.GetValue(prompt)!, parse.GetValue(maxTokens),
                        piece =>
                        {
                            if (context.Json) return;
                            context.Output.Write(piece);
                            context.Output.Flush();
                        }, ct);
                }
                catch (PaymentRequiredException due) when (due.Code == "voucher_required" && attempt < 3
                                                           && Credits.TryParse(due.AmountToSign, out var amount))
                {
                    // Paying as it goes: the CLI holds the lease's signer, so it signs what is owed and asks again.
                    await LeaseCommands.PayAsync(context, api, wallet, await api.GetLeaseAsync(key.LeaseId, ct), amount, ct);
                    if (!context.Json) context.Console.MarkupLine(Markup.Escape($"[paid {amount} by voucher]"));
                }
                catch (PaymentRequiredException due)
                {
                    throw new CliException($"{due.Message} (occ lease top-up {key.LeaseId} AMOUNT)");
                }
            }
            context.Print(answer, console =>
            {
                console.WriteLine();
                console.MarkupLine(Markup.Escape($"[{answer.PromptTokens} prompt + {answer.CompletionTokens} completion tokens, finish: {answer.FinishReason}]"));
            });
        }));
        return command;
    }
}
