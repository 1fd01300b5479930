using System.CommandLine;
using OrleansCompute.Abstractions.Leases;
using Spectre.Console;

namespace OrleansCompute.Cli.Commands;

/// <summary>
/// <c>occ lease leave|refund</c>: a tenant's exits that need neither the market nor its provider. Both find the lease on
/// chain from its LeaseOpened event and act from the tenant's own wallet, so they work with every host down.
/// </summary>
public static class LeaseExitCommands
{
    public static Command LeaveCommand()
    {
        var id = new Argument<string>("id") { Description = "The lease to leave." };
        var amount = new Option<string>("--amount") { Description = "What the lease owes, in credits, by the tenant's count: its final voucher pays that.", Required = true };
        var tenant = LeaseCommands.TenantOption();
        var command = new Command("leave",
            "Leave a lease without the market: sign a final voucher for --amount and send it to the escrow yourself. The escrow pays it, " +
            "the lease expires now, the market ends it, and after the claim window `occ lease refund` takes back the rest.") { id, amount, tenant };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var leaseId = ParseId(parse.GetValue(id)!);
            var owed = CreditsArgument.Require("--amount", parse.GetValue(amount));
            var wallet = context.Tenant(parse.GetValue(tenant));
            var (lease, transaction) = await TenantChain.Connect(context).LeaveAsync(wallet, leaseId, owed, context.Devnet.ReadSessionKey(leaseId), ct);
            context.Print(new { leaseId, paid = lease.Paid, deposit = lease.Deposit, expiry = lease.Expiry, transaction }, console =>
            {
                console.MarkupLine(Markup.Escape($"Lease {LeaseIds.Format(leaseId)} is closing on chain (transaction {transaction}): paid {lease.Paid} of {lease.Deposit}, expired {lease.Expiry:O}."));
                console.MarkupLine(Markup.Escape($"After the claim window, `./occ lease refund {LeaseIds.Format(leaseId)}` credits the rest to {wallet.Name}'s escrow balance."));
            });
        }));
        return command;
    }

    public static Command RefundCommand()
    {
        var id = new Argument<string>("id") { Description = "The lease whose escrow to take back." };
        var tenant = LeaseCommands.TenantOption();
        var command = new Command("refund",
            "Take back what a lease's escrow did not pay, once its expiry and the claim window after it have passed: credited to the tenant's escrow balance.") { id, tenant };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var leaseId = ParseId(parse.GetValue(id)!);
            var wallet = context.Tenant(parse.GetValue(tenant));
            var (refund, transaction) = await TenantChain.Connect(context).RefundAsync(wallet, leaseId, ct);
            context.Print(new { leaseId, refunded = refund, transaction }, console =>
                console.MarkupLine(Markup.Escape($"Refunded {refund} of lease {LeaseIds.Format(leaseId)} to {wallet.Name}'s escrow balance (transaction {transaction}); `occ balance withdraw` pays it out.")));
        }));
        return command;
    }

    private static Guid ParseId(string text) =>
        LeaseIds.TryParse(text, out var leaseId) ? leaseId : throw new CliException($"id: '{text}' is not a lease id (32 hex digits, as occ lease list shows).");
}
