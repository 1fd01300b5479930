using System.CommandLine;
using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Cli.Api;

namespace OrleansCompute.Cli.Commands;

/// <summary><c>occ inspect KIND KEY</c>: a grain's state as the grain holds it.</summary>
public static class InspectCommands
{
    public static Command Create()
    {
        var kind = new Argument<string>("kind") { Description = "The grain kind (slot, pool, market, orders, lease, account, settlement or provider), or active: which grains are active where." };
        var key = new Argument<string?>("key")
        {
            Description = "The grain's key: provider/pool/index, provider/pool, a kind, a lease id, an address or a provider id.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var command = new Command("inspect", "Show a grain's state as the grain holds it, or which grains are active.") { kind, key };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var grainKind = parse.GetValue(kind)!;
            var grainKey = parse.GetValue(key);
            var api = context.Api();
            JsonElement state;
            if (grainKind == "active")
            {
                // Nothing is keyed there: a key given anyway is a mistake to say, not to drop.
                if (grainKey is not null) throw new CliException($"inspect active takes no key (got '{grainKey}'): it lists every active grain.");
                state = await api.GetActiveAsync(ct);
            }
            else
            {
                state = await InspectAsync(api, grainKind, grainKey ?? throw new CliException($"inspect {grainKind} needs the grain's key."), ct);
            }
            // Grain state is printed as JSON either way: it is the exact shape the grain holds.
            await context.Output.WriteLineAsync(JsonSerializer.Serialize(state, new JsonSerializerOptions(ApiJson.Options) { WriteIndented = true }));
        }));
        return command;
    }

    /// <summary>The host's refusal of an unknown kind names the kinds it keys by; `active` is one too, on a route of its own.</summary>
    private static async Task<JsonElement> InspectAsync(MarketApiClient api, string kind, string key, CancellationToken ct)
    {
        try
        {
            return await api.InspectAsync(kind, key, ct);
        }
        catch (ApiException unknown) when (unknown.Reason == "UnknownGrainKind")
        {
            throw new ApiException(unknown.Status, unknown.Title, $"{unknown.Detail?.TrimEnd('.')}, or active (no key).", unknown.Field, unknown.Reason);
        }
    }
}
