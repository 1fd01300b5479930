using System.CommandLine;
using System.Text.Json;
using OrleansCompute.Abstractions;

namespace OrleansCompute.Cli.Commands;

/// <summary><c>occ inspect KIND KEY</c>: a grain's state as the grain holds it.</summary>
public static class InspectCommands
{
    public static Command Create()
    {
        var kind = new Argument<string>("kind") { Description = "slot, pool, market, lease, account or settlement." };
        var key = new Argument<string>("key") { Description = "The grain's key: provider/pool/index, provider/pool, a kind, a lease id or an address." };
        var command = new Command("inspect", "Show a grain's state as the grain holds it.") { kind, key };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var state = await context.Api().InspectAsync(parse.GetValue(kind)!, parse.GetValue(key)!, ct);
            // Grain state is printed as JSON either way: it is the exact shape the grain holds.
            await context.Output.WriteLineAsync(JsonSerializer.Serialize(state, new JsonSerializerOptions(ApiJson.Options) { WriteIndented = true }));
        }));
        return command;
    }
}
