using System.CommandLine;
using System.Text.Json;
using Spectre.Console;

namespace OrleansCompute.Cli.Commands;

/// <summary><c>occ audit</c>: every lease and provider balance in the market compared with the chain; exit 1 on any mismatch.</summary>
public static class AuditCommands
{
    public static Command Create()
    {
        var command = new Command("audit", "Compare every lease and provider balance in the grains with the escrow on chain; list each mismatch with its cause (exit 1 if any).");
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var report = await context.Api().GetAuditAsync(ct);
            var mismatches = report.GetProperty("mismatches");
            context.Print(report, console =>
            {
                // Two lines, each short enough not to wrap mid-sum.
                console.MarkupLine(Markup.Escape(
                    $"At block {report.GetProperty("block").GetInt64()}: {report.GetProperty("leasesChecked").GetInt32()} escrowed lease(s) and " +
                    $"{report.GetProperty("providersChecked").GetInt32()} provider balance(s) compared."));
                console.MarkupLine(Markup.Escape(
                    $"Escrow holds {report.GetProperty("escrowTokenBalance").GetString()} = {report.GetProperty("openEscrows").GetString()} open + " +
                    $"{report.GetProperty("tenantBalances").GetString()} tenant balances + {report.GetProperty("owedToProviders").GetString()} owed + " +
                    $"{report.GetProperty("feesAccrued").GetString()} fees."));
                foreach (var note in report.GetProperty("notes").EnumerateArray()) console.MarkupLine(Markup.Escape($"note: {note.GetString()}"));
                if (mismatches.GetArrayLength() == 0)
                {
                    console.MarkupLine("[green]No mismatch: the market and the chain agree.[/]");
                    return;
                }
                var table = new Table().AddColumns("subject", "field", "market", "chain", "cause");
                foreach (var m in mismatches.EnumerateArray())
                    table.AddRow(Text(m, "subject"), Text(m, "field"), Text(m, "market"), Text(m, "chain"), Text(m, "cause"));
                console.Write(table);
            });
            if (mismatches.GetArrayLength() > 0)
                throw new CliException($"{mismatches.GetArrayLength()} mismatch(es) between the market and the chain.");
        }));
        return command;
    }

    private static string Text(JsonElement element, string name) =>
        Markup.Escape(element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "");
}
