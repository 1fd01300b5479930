using System.CommandLine;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Orders;
using Spectre.Console;

namespace OrleansCompute.Cli.Commands;

/// <summary><c>occ order place|list|cancel</c>: standing orders that fill when capacity appears or prices fall.</summary>
public static class OrderCommands
{
    public static Command Create()
    {
        var order = new Command("order", "Standing orders: rest until capacity appears or prices fall, then become leases to fund (occ lease fund).");
        order.Subcommands.Add(PlaceCommand());
        order.Subcommands.Add(ListCommand());
        order.Subcommands.Add(CancelCommand());
        return order;
    }

    private static Command PlaceCommand()
    {
        var kind = new Option<string>("--kind") { Description = "Accelerator kind: trainium2, inferentia2, h100, h200, mi300x.", Required = true };
        var slots = new Option<int>("--slots") { Description = "How many accelerators.", DefaultValueFactory = _ => 1 };
        var hours = new Option<int>("--hours") { Description = "How long the lease runs.", Required = true };
        var start = LeaseCommands.StartOption();
        var region = new Option<string?>("--region") { Description = "Only this region." };
        var maxPrice = LeaseCommands.MaxPriceOption();
        var validFor = new Option<int>("--valid-for") { Description = "Minutes the order rests before it expires.", DefaultValueFactory = _ => 60 };
        var tenant = LeaseCommands.TenantOption();
        var command = new Command("place", "Place a standing order; filled in price-time priority.") { kind, slots, hours, start, region, maxPrice, validFor, tenant };
        var constraints = new ConstraintOptions();
        constraints.AddTo(command);
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var wallet = context.Tenant(parse.GetValue(tenant));
            var request = constraints.Apply(parse, new LeaseRequest(parse.GetValue(kind)!, parse.GetValue(slots), parse.GetValue(hours), parse.GetValue(region),
                LeaseCommands.ParseMaxPrice(parse.GetValue(maxPrice)), Start: LeaseCommands.ParseStart(parse.GetValue(start))));
            var api = context.Api();
            var placed = await api.PlaceOrderAsync(new PlaceOrderRequest(request, parse.GetValue(validFor)), wallet.PrivateKey, ct);
            var toFund = await AwaitingFundingAsync(api, [placed], ct);
            context.Print(placed, console => Show(console, [placed], toFund, parse.GetValue(tenant)));
        }));
        return command;
    }

    private static Command ListCommand()
    {
        var tenant = LeaseCommands.TenantOption();
        var command = new Command("list", "The tenant's orders; a filled one names its lease.") { tenant };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var api = context.Api();
            var orders = await api.ListOrdersAsync(context.Tenant(parse.GetValue(tenant)).PrivateKey, ct);
            var toFund = await AwaitingFundingAsync(api, orders, ct);
            context.Print(orders, console => Show(console, orders, toFund, parse.GetValue(tenant)));
        }));
        return command;
    }

    private static Command CancelCommand()
    {
        var id = new Argument<string>("id") { Description = "The order id." };
        var tenant = LeaseCommands.TenantOption();
        var command = new Command("cancel", "Cancel an open order.") { id, tenant };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var cancelled = await context.Api().CancelOrderAsync(parse.GetValue(id)!, context.Tenant(parse.GetValue(tenant)).PrivateKey, ct);
            context.Print(cancelled, console => Show(console, [cancelled], []));
        }));
        return command;
    }

    /// <summary>
    /// The leases of filled orders that still wait for their funding: a filled order keeps naming its lease after the lease
    /// was funded, cancelled or expired, and only a reserved one can be funded.
    /// </summary>
    private static async Task<IReadOnlyList<Guid>> AwaitingFundingAsync(Api.MarketApiClient api, IReadOnlyList<StandingOrder> orders, CancellationToken ct)
    {
        var leases = await Task.WhenAll(orders.Where(o => o.Status == OrderStatus.Filled && o.LeaseId is not null)
            .Select(o => api.GetLeaseAsync(LeaseIds.Format(o.LeaseId!.Value), ct)));
        return leases.Where(l => l.Status == LeaseStatus.Reserved).Select(l => l.Id).ToList();
    }

    /// <param name="toFund">The leases of filled orders that wait for their funding (<see cref="AwaitingFundingAsync"/>).</param>
    /// <param name="asTenant">The --tenant the command was given, repeated in the hint so that it acts for the same wallet.</param>
    private static void Show(IAnsiConsole console, IReadOnlyList<StandingOrder> orders, IReadOnlyList<Guid> toFund, string? asTenant = null)
    {
        // Ids are copied from here into the next command: a table too wide for the terminal wraps other columns, not them.
        var table = new Table().AddColumns(new TableColumn("order").NoWrap(), new TableColumn("status"), new TableColumn("kind"), new TableColumn("slots"),
            new TableColumn("hours"), new TableColumn("max price"), new TableColumn("expires"), new TableColumn("lease").NoWrap(), new TableColumn("reason"));
        foreach (var o in orders)
        {
            table.AddRow(Markup.Escape(o.Id), o.Status.ToString(), o.Request.Kind, o.Request.Slots.ToString(), o.Request.Hours.ToString(),
                o.Request.MaxPricePerSlotHour?.ToString() ?? "any", o.ExpiresAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'"),
                o.LeaseId is { } lease ? LeaseIds.Format(lease) : "", Markup.Escape(o.Reason ?? ""));
        }
        console.Write(table);
        foreach (var lease in toFund)
            console.MarkupLine(Markup.Escape($"Fund a filled order's lease: ./occ lease fund {LeaseIds.Format(lease)}{(asTenant is null ? "" : $" --tenant {asTenant}")}"));
    }
}
