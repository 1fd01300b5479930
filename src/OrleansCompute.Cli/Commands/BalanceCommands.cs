using System.CommandLine;
using Spectre.Console;

namespace OrleansCompute.Cli.Commands;

/// <summary>
/// <c>occ balance [withdraw]</c>: what a tenant holds in the escrow outside its leases. Ending a lease credits the unused
/// escrow there; the next lease draws on it before the wallet, and the tenant can withdraw it at any time.
/// </summary>
public static class BalanceCommands
{
    public static Command Create()
    {
        var tenant = LeaseCommands.TenantOption();
        var command = new Command("balance", "The tenant's escrow balance (refunds of ended leases, drawn on by its next leases) and its wallet.") { tenant };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var wallet = context.Tenant(parse.GetValue(tenant));
            var (inWallet, inEscrow) = await TenantChain.Connect(context).BalancesAsync(wallet, ct);
            context.Print(new { tenant = wallet.Address, escrowBalance = inEscrow, wallet = inWallet }, console =>
            {
                console.MarkupLine(Markup.Escape($"{wallet.Name} ({wallet.Address})"));
                console.MarkupLine(Markup.Escape($"  in the escrow  {inEscrow}  (next leases draw on it; `occ balance withdraw` pays it out)"));
                console.MarkupLine(Markup.Escape($"  in the wallet  {inWallet}"));
            });
        }));
        command.Subcommands.Add(WithdrawCommand());
        return command;
    }

    private static Command WithdrawCommand()
    {
        var tenant = LeaseCommands.TenantOption();
        var command = new Command("withdraw", "Pay the tenant's whole escrow balance back to its wallet.") { tenant };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var wallet = context.Tenant(parse.GetValue(tenant));
            var (amount, transaction) = await TenantChain.Connect(context).WithdrawBalanceAsync(wallet, ct);
            context.Print(new { tenant = wallet.Address, withdrawn = amount, transaction }, console =>
                console.MarkupLine(Markup.Escape($"Withdrew {amount} from the escrow to {wallet.Name} ({wallet.Address}) in transaction {transaction}.")));
        }));
        return command;
    }
}
