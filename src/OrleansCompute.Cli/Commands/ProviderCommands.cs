using System.CommandLine;
using OrleansCompute.Abstractions.Market;
using Spectre.Console;

namespace OrleansCompute.Cli.Commands;

/// <summary><c>occ provider drain</c>: a provider takes a slot back, signed with the pool's payout key (kept in .devnet/providers.json on the devnet).</summary>
public static class ProviderCommands
{
    public static Command Create()
    {
        var provider = new Command("provider", "Provider operations on the devnet's demo pools, signed with the pool's payout key.");
        provider.Subcommands.Add(DrainCommand());
        return provider;
    }

    private static Command DrainCommand()
    {
        var slot = new Argument<string>("slot") { Description = "The slot key: provider/pool/index (occ inspect pool shows them)." };
        var notice = new Option<int>("--notice") { Description = "Minutes the slot's leases have before they move or end.", DefaultValueFactory = _ => 10 };
        var command = new Command("drain", "Take a slot out of service: no new bookings; its leases move to a free slot after the notice, or end billed pro rata.")
            { slot, notice };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var (poolKey, index) = ParseSlot(parse.GetValue(slot)!);
            var api = context.Api();
            var pool = await api.InspectAsync("pool", poolKey, ct);
            var payout = pool.GetProperty("definition").GetProperty("payoutAddress").GetString();
            var wallet = context.Devnet.ReadProviderWallets().FirstOrDefault(w => string.Equals(w.Address, payout, StringComparison.OrdinalIgnoreCase))
                ?? throw new CliException($"No key for {poolKey}'s provider ({payout}) in {context.Devnet.ProviderWalletsPath}.");

            var drained = await api.DrainSlotAsync(poolKey, index, parse.GetValue(notice), wallet.PrivateKey, ct);
            context.Print(drained, console => console.MarkupLine(Markup.Escape(
                $"Draining {drained.GetProperty("slot").GetString()}: {drained.GetProperty("leases").GetArrayLength()} lease(s) get {parse.GetValue(notice)} min notice.")));
        }));
        return command;
    }

    private static (string PoolKey, int Index) ParseSlot(string key)
    {
        try
        {
            return MarketKeys.ParseSlot(key);
        }
        catch (Abstractions.MarketException e)
        {
            throw new CliException(e.Message);
        }
    }
}
