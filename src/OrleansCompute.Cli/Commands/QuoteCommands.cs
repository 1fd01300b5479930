using System.CommandLine;
using OrleansCompute.Abstractions.Market;
using Spectre.Console;

namespace OrleansCompute.Cli.Commands;

/// <summary><c>occ quote</c>: a price that holds for a while, to lease at with <c>occ lease create --quote ID</c>.</summary>
public static class QuoteCommands
{
    public static Command Create()
    {
        var kind = new Option<string>("--kind") { Description = "Accelerator kind: trainium2, inferentia2, h100, h200, mi300x.", Required = true };
        var slots = new Option<int>("--slots") { Description = "How many accelerators.", DefaultValueFactory = _ => 1 };
        var hours = new Option<int>("--hours") { Description = "How long the lease would run.", Required = true };
        var region = new Option<string?>("--region") { Description = "Only this region." };
        var maxPrice = LeaseCommands.MaxPriceOption();
        var start = LeaseCommands.StartOption();
        var command = new Command("quote", "The cheapest live price for a lease, held until the quote expires. Reserves nothing.")
            { kind, slots, hours, start, region, maxPrice };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var request = new LeaseRequest(parse.GetValue(kind)!, parse.GetValue(slots), parse.GetValue(hours), parse.GetValue(region),
                LeaseCommands.ParseMaxPrice(parse.GetValue(maxPrice)), Start: LeaseCommands.ParseStart(parse.GetValue(start)));
            var quote = await context.Api().QuoteAsync(request, ct);
            context.Print(quote, console =>
            {
                console.MarkupLine(Markup.Escape($"{quote.Slots} × {quote.Kind} in {quote.PoolKey} ({quote.Region}) at {quote.PricePerSlotHour} per slot-hour, until {quote.ExpiresAt.UtcDateTime:HH:mm:ss'Z'}"));
                console.MarkupLine(Markup.Escape($"quote {quote.Id}"));
                // The quote is good only for the lease it priced: the command to lease at it names the same slots, hours and
                // start (a time, not "+1d", which would move).
                var startOption = quote.Start is { } at ? $" --start {at.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}" : "";
                console.MarkupLine(Markup.Escape($"  ./occ lease create --kind {quote.Kind} --slots {quote.Slots} --hours {quote.Hours}{startOption} --quote {quote.Id}"));
            });
        }));
        return command;
    }
}
