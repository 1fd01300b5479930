using System.CommandLine;
using Spectre.Console;

namespace OrleansCompute.Cli.Commands;

/// <summary><c>occ offers</c>: what can be leased now.</summary>
public static class OfferCommands
{
    public static Command Create()
    {
        var kind = new Option<string?>("--kind") { Description = "Only this accelerator kind (trainium2, inferentia2, h100, h200, mi300x)." };
        var region = new Option<string?>("--region") { Description = "Only this region." };
        var sort = new Option<string?>("--sort") { Description = "price (per slot-hour, the default), cost-per-token or energy (Wh per 1M tokens)." };
        var command = new Command("offers", "What can be leased now: price per slot-hour, per 1M tokens, energy per 1M tokens.") { kind, region, sort };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var (kindName, regionName) = (parse.GetValue(kind), parse.GetValue(region));
            var offers = await context.Api().GetOffersAsync(kindName, regionName, ct, parse.GetValue(sort));
            // Nothing of a kind in a region the market has: say where that kind is offered instead.
            var elsewhere = offers.Count == 0 && kindName is not null && regionName is not null
                ? (await context.Api().GetOffersAsync(kindName, null, ct)).Select(o => o.Region).Distinct().Order().ToList()
                : null;
            context.Print(offers, console =>
            {
                var table = new Table().AddColumns("kind", "pool", "region", "free", "per slot-hour", "per 1M tokens", "Wh per 1M tokens", "memory");
                foreach (var offer in offers)
                {
                    table.AddRow(offer.Kind, offer.PoolKey, offer.Region, $"{offer.AvailableSlots}/{offer.TotalSlots}",
                        offer.PricePerSlotHour.ToString(), offer.PricePerMillionTokens.ToString(),
                        offer.EnergyWhPerMillionTokens.ToString("0.00"), $"{offer.Accelerator.MemoryGiB} GiB");
                }
                console.Write(table);
                if (elsewhere is not null)
                    console.WriteLine(elsewhere.Count == 0
                        ? $"No {kindName} offers in {regionName}, nor anywhere else yet."
                        : $"No {kindName} offers in {regionName}; {kindName} is offered in {string.Join(", ", elsewhere)}.");
                else if (offers.Count == 0)
                    console.WriteLine(kindName is null && regionName is null ? "No offers: is the devnet seeded (occ devnet up)?" : "No offers match.");
            });
        }));
        return command;
    }
}
