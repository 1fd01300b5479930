using System.CommandLine;
using System.Text.Json;
using OrleansCompute.Abstractions;

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
            var state = grainKind == "active"
                ? await api.GetActiveAsync(ct)
                : await api.InspectAsync(grainKind, grainKey ?? throw new CliException($"inspect {grainKind} needs the grain's key."), ct);
            // Grain state is printed as JSON either way: it is the exact shape the grain holds.
            await context.Output.WriteLineAsync(JsonSerializer.Serialize(state, new JsonSerializerOptions(ApiJson.Options) { WriteIndented = true }));
        }));
        return command;
    }
}
