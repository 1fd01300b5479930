using System.CommandLine;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using Nethereum.Hex.HexConvertors.Extensions;
using OrleansCompute.Cli.Api;
using OrleansCompute.Cli.Devnet;
using Spectre.Console;

namespace OrleansCompute.Cli.Commands;

/// <summary>
/// <c>occ lease create|list|show|end|fund|key|voucher|top-up</c>: the tenant's side of a lease, signed with the tenant's
/// key (<c>leave</c> and <c>refund</c>, which need no market, are <see cref="LeaseExitCommands"/>).
/// </summary>
public static class LeaseCommands
{
    private static readonly TimeSpan WaitForChain = TimeSpan.FromSeconds(60);

    public static Command Create()
    {
        var lease = new Command("lease", "Create, list, show and end leases; fund, pay and top up their escrows; leave or refund one without the market.");
        lease.Subcommands.Add(CreateCommand());
        lease.Subcommands.Add(ListCommand());
        lease.Subcommands.Add(ShowCommand());
        lease.Subcommands.Add(EndCommand());
        lease.Subcommands.Add(FundCommand());
        lease.Subcommands.Add(KeyCommand());
        lease.Subcommands.Add(VoucherCommand());
        lease.Subcommands.Add(TopUpCommand());
        lease.Subcommands.Add(LeaseExitCommands.LeaveCommand());
        lease.Subcommands.Add(LeaseExitCommands.RefundCommand());
        return lease;
    }

    public static Option<string?> MaxPriceOption() =>
        new("--max-price") { Description = "The most to pay per slot-hour, in credits (e.g. 2.75)." };

    public static Credits? ParseMaxPrice(string? text) => CreditsArgument.Parse("--max-price", text);

    public static Option<string?> StartOption() =>
        new("--start") { Description = "Book a block that starts later: an ISO 8601 time (2026-12-01T09:00Z) or +30m, +2h, +1d. Default: now." };

    public static DateTimeOffset? ParseStart(string? text)
    {
        if (text is null) return null;
        if (text.StartsWith('+') && text.Length > 2 && int.TryParse(text[1..^1], out var amount) && amount >= 0)
        {
            TimeSpan? unit = text[^1] switch { 'm' => TimeSpan.FromMinutes(1), 'h' => TimeSpan.FromHours(1), 'd' => TimeSpan.FromDays(1), _ => null };
            if (unit is { } per)
            {
                var now = DateTimeOffset.UtcNow;
                // Checked before adding: past the year 9999 is no time at all, and adding would throw.
                if (amount > (DateTimeOffset.MaxValue - now).Ticks / per.Ticks)
                    throw new CliException($"--start: '{text}' is past the last time there is (9999-12-31); the market books windows a few weeks ahead at most.");
                return now + TimeSpan.FromTicks(per.Ticks * amount);
            }
        }
        return DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : throw new CliException($"--start: '{text}' is neither an ISO 8601 time nor +N followed by m, h or d.");
    }

    /// <summary>Funds a reserved lease made for the tenant by a standing order (or one whose funding was interrupted).</summary>
    private static Command FundCommand()
    {
        var id = new Argument<string>("id") { Description = "The lease id (occ order list shows the leases orders made)." };
        var tenant = TenantOption();
        var command = new Command("fund", "Fund a reserved lease's escrow from the tenant's wallet and wait until it is active.") { id, tenant };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var wallet = context.Tenant(parse.GetValue(tenant));
            var api = context.Api();
            var reserved = await api.GetLeaseAsync(parse.GetValue(id)!, ct);
            if (reserved.Status != LeaseStatus.Reserved)
                throw new CliException($"Lease {LeaseIds.Format(reserved.Id)} is {reserved.Status}; only a Reserved lease can be funded.");
            RequireTenant(reserved, wallet);

            var escrowTransaction = (await TenantChain.Connect(context).FundEscrowAsync(wallet, reserved, ct)).TransactionHash;
            var funded = await WaitForAsync(api, reserved.Id, l => l.Status != LeaseStatus.Reserved, ct);
            context.Print(new { lease = funded, escrowTransaction }, console =>
            {
                console.MarkupLine($"[green]Lease {LeaseIds.Format(funded.Id)} is {funded.Status}[/]");
                Describe(console, funded);
            });
            if (funded.Status is not (LeaseStatus.Active or LeaseStatus.Funded))
                throw new CliException(Explain(funded));
        }));
        return command;
    }

    public static Option<string?> TenantOption() =>
        new("--tenant") { Description = "The tenant wallet to act for: a name from .devnet/wallets.json (tenant1…) or its address. Default: tenant1." };

    private static Command CreateCommand()
    {
        var kind = new Option<string>("--kind") { Description = "Accelerator kind: trainium2, inferentia2, h100, h200, mi300x, or any (the cheapest kind meeting the constraints).", Required = true };
        var slots = new Option<int>("--slots") { Description = "How many accelerators.", DefaultValueFactory = _ => 1 };
        var hours = new Option<int>("--hours") { Description = "How long the lease runs.", Required = true };
        var region = new Option<string?>("--region") { Description = "Only this region." };
        var maxPrice = MaxPriceOption();
        var quote = new Option<string?>("--quote") { Description = "Pay the price of this quote (from `occ quote`) instead of the live price." };
        var start = StartOption();
        var billBy = new Option<LeaseBillingMode>("--bill-by")
            { Description = "Pay for the hours used (default) or for the tokens inference used, at the pool's price per 1M tokens.", DefaultValueFactory = _ => LeaseBillingMode.Hours, HelpName = "hours|tokens" };
        var voucherEvery = new Option<string?>("--voucher-every")
            { Description = "Pay as you go: a voucher whenever this much of the bill (tokens, or time by the hour) is unpaid; inference waits for it (occ infer signs it)." };
        var useSessionKey = new Option<bool>("--session-key")
            { Description = "Sign this lease's vouchers with a new session key kept in .devnet/session-keys, named in the escrow, instead of the wallet key." };
        var constraints = new ConstraintOptions();
        var tenant = TenantOption();
        var command = new Command("create", "Reserve slots, fund the escrow from the tenant's wallet, and wait until the lease is active (or, for a block starting later, funded).")
            { kind, slots, hours, start, region, maxPrice, quote, billBy, voucherEvery, useSessionKey, tenant };
        constraints.AddTo(command);

        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var max = ParseMaxPrice(parse.GetValue(maxPrice));
            var wallet = context.Tenant(parse.GetValue(tenant));
            var key = wallet.PrivateKey;
            var api = context.Api();
            var chain = TenantChain.Connect(context);

            var request = constraints.Apply(parse, new LeaseRequest(parse.GetValue(kind)!, parse.GetValue(slots), parse.GetValue(hours),
                parse.GetValue(region), max, parse.GetValue(quote), ParseStart(parse.GetValue(start)))
            {
                BillBy = parse.GetValue(billBy),
                VoucherEvery = CreditsArgument.Parse("--voucher-every", parse.GetValue(voucherEvery)),
            });
            // The host reserves only what the tenant's wallet and escrow balance pay for, and refuses (402 InsufficientFunds) otherwise.
            var reserved = await api.CreateLeaseAsync(request, key, ct);

            string escrowTransaction;
            try
            {
                SessionKey? session = null;
                if (parse.GetValue(useSessionKey))
                {
                    var generated = Nethereum.Signer.EthECKey.GenerateKey();
                    session = new SessionKey(reserved.Id, generated.GetPublicAddress(), generated.GetPrivateKeyAsBytes().ToHex(prefix: true));
                    context.Devnet.WriteSessionKey(session);
                }
                escrowTransaction = (await chain.FundEscrowAsync(wallet, reserved, ct, session?.PrivateKey)).TransactionHash;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Nothing may stay reserved for a lease that cannot be funded.
                await api.EndLeaseAsync(LeaseIds.Format(reserved.Id), key, CancellationToken.None);
                if (e is CliException) throw new CliException($"{e.Message} Its reservation ({LeaseIds.Format(reserved.Id)}) was released.");
                throw;
            }

            LeaseSnapshot active;
            try
            {
                active = await WaitForAsync(api, reserved.Id, l => l.Status != LeaseStatus.Reserved, ct);
            }
            catch (Exception e) when (e is CliException or ApiException && !ct.IsCancellationRequested)
            {
                // The money has moved: whatever the host says or fails to say now, the tenant must learn which lease it paid for.
                var id = LeaseIds.Format(reserved.Id);
                throw new CliException($"{(e as ApiException)?.Summary ?? e.Message} Lease {id} is funded on chain (transaction {escrowTransaction}): " +
                                       $"the market activates it when it sees that escrow; `occ lease show {id}` says when, `occ lease end {id}` ends it.");
            }
            if (active.Status is not (LeaseStatus.Active or LeaseStatus.Funded))
                throw new CliException(Explain(active));

            // A lease that runs now has its inference key now; a block that starts later gets it when it starts (occ lease key).
            var inference = active.Status == LeaseStatus.Active
                ? new { baseUrl = $"{context.ApiUrl.TrimEnd('/')}/v1", apiKey = (await api.GetLeaseKeyAsync(LeaseIds.Format(active.Id), key, ct)).ApiKey }
                : null;
            context.Print(new { lease = active, escrowTransaction, inference }, console =>
            {
                console.MarkupLine($"[green]Lease {LeaseIds.Format(active.Id)} is {active.Status}[/]");
                Describe(console, active);
                if (inference is not null)
                {
                    console.MarkupLine(Markup.Escape($"inference endpoint  {inference.baseUrl} (OpenAI-compatible)"));
                    console.MarkupLine(Markup.Escape($"inference key       {inference.apiKey}"));
                }
                console.WriteLine();
                console.MarkupLine("Next:");
                // Pasted as printed, they act for the same wallet.
                var asTenant = parse.GetValue(tenant) is null ? "" : $" --tenant {wallet.Name}";
                if (inference is not null) console.MarkupLine(Markup.Escape($"  ./occ infer {LeaseIds.Format(active.Id)} \"Hello\"{asTenant}"));
                console.MarkupLine(Markup.Escape($"  ./occ inspect lease {LeaseIds.Format(active.Id)}"));
                console.MarkupLine(Markup.Escape($"  ./occ lease end {LeaseIds.Format(active.Id)}{asTenant}"));
            });
        }));
        return command;
    }

    private static Command ListCommand()
    {
        var tenant = TenantOption();
        var command = new Command("list", "The tenant's leases, newest first; a running lease's owed is its bill so far, as lease show gives it.") { tenant };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var leases = await context.Api().ListLeasesAsync(context.Tenant(parse.GetValue(tenant)).PrivateKey, ct);
            context.Print(leases, console =>
            {
                var table = new Table().AddColumns("lease", "status", "kind", "slots", "hours", "pool", "deposit", "owed", "paid");
                foreach (var l in leases)
                {
                    table.AddRow(LeaseIds.Format(l.Id), l.Status.ToString(), l.Request.Kind, l.Request.Slots.ToString(), l.Request.Hours.ToString(),
                        l.PoolKey ?? "", l.Deposit.ToString(), (l.OwedSoFar ?? l.AmountOwed).ToString(), l.Paid.ToString());
                }
                console.Write(table);
            });
        }));
        return command;
    }

    private static Command ShowCommand()
    {
        var id = new Argument<string>("id") { Description = "The lease id." };
        var command = new Command("show", "One lease: terms, escrow, settlement and every transition with its reason.") { id };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var lease = await context.Api().GetLeaseAsync(parse.GetValue(id)!, ct);
            context.Print(lease, console =>
            {
                Describe(console, lease);
                // The market ends leases too (a drained slot, expiry), but only the tenant's final voucher settles them.
                if (lease is { Status: LeaseStatus.Ended, FinalVoucher: null, VoucherToSign: { } owed })
                    console.MarkupLine(Markup.Escape($"Next: `occ lease end {LeaseIds.Format(lease.Id)}{AsTenant(context, lease)}` signs the final voucher for {owed.Amount}: " +
                                                     "that settles the lease and refunds the rest of its escrow to your escrow balance."));
            });
        }));
        return command;
    }

    private static Command KeyCommand()
    {
        var id = new Argument<string>("id") { Description = "The lease id." };
        var tenant = TenantOption();
        var command = new Command("key", "The active lease's key for the OpenAI-compatible endpoint (base URL: the host's /v1).") { id, tenant };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var key = await context.Api().GetLeaseKeyAsync(parse.GetValue(id)!, context.Tenant(parse.GetValue(tenant)).PrivateKey, ct);
            context.Print(new { key.LeaseId, key.ApiKey, baseUrl = $"{context.ApiUrl.TrimEnd('/')}/v1" }, console =>
            {
                console.WriteLine(key.ApiKey);
                console.MarkupLine(Markup.Escape($"  OPENAI_BASE_URL={context.ApiUrl.TrimEnd('/')}/v1 OPENAI_API_KEY={key.ApiKey}"));
            });
        }));
        return command;
    }

    private static Command VoucherCommand()
    {
        var id = new Argument<string>("id") { Description = "The lease to pay." };
        var amount = new Option<string?>("--amount") { Description = "The cumulative amount to sign (default: what the lease owes now)." };
        var tenant = TenantOption();
        var command = new Command("voucher", "Pay a lease as it goes: sign a cumulative voucher for what it owes so far (with its session key, if it has one) and hand it to settlement.")
            { id, amount, tenant };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var api = context.Api();
            var lease = await api.GetLeaseAsync(parse.GetValue(id)!, ct);
            var value = parse.GetValue(amount) is { } text
                ? CreditsArgument.Require("--amount", text, positive: true)
                : lease.OwedSoFar ?? lease.AmountOwed;
            var paid = await PayAsync(context, api, context.Tenant(parse.GetValue(tenant)), lease, value, ct);
            context.Print(paid, console =>
            {
                console.MarkupLine(Markup.Escape($"Voucher for {value} accepted; settlement puts it on chain."));
                Describe(console, paid);
            });
        }));
        return command;
    }

    /// <summary>Signs a usage voucher for <paramref name="amount"/> on the lease's channel with the lease's signer and submits it.</summary>
    public static Task<LeaseSnapshot> PayAsync(CliContext context, MarketApiClient api, TenantWallet wallet, LeaseSnapshot lease, Credits amount, CancellationToken ct)
    {
        if (lease.Channel is not { } channel)
            throw new CliException($"Lease {LeaseIds.Format(lease.Id)} has no escrow the market has seen yet; a voucher would pay nothing.");
        var voucher = TenantChain.Connect(context).SignVoucher(wallet, lease.Id, channel, amount, isFinal: false, context.Devnet.ReadSessionKey(lease.Id));
        return api.SubmitUsageVoucherAsync(LeaseIds.Format(lease.Id), voucher, ct);
    }

    private static Command TopUpCommand()
    {
        var id = new Argument<string>("id") { Description = "The lease whose escrow to add to." };
        var amount = new Argument<string>("amount") { Description = "Credits to add." };
        var tenant = TenantOption();
        var command = new Command("top-up", "Add credits to a live lease's escrow from the tenant's wallet, and wait until the market has seen it on chain.") { id, amount, tenant };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var value = CreditsArgument.Require("amount", parse.GetValue(amount), positive: true);
            var api = context.Api();
            var wallet = context.Tenant(parse.GetValue(tenant));
            var lease = await api.GetLeaseAsync(parse.GetValue(id)!, ct);
            if (lease.Status is not (LeaseStatus.Active or LeaseStatus.Funded))
                throw new CliException($"Lease {LeaseIds.Format(lease.Id)} is {lease.Status}; only a live lease can be topped up.");
            // The escrow knows a lease under its tenant's (or session key's) channel; another wallet would only meet a revert.
            RequireTenant(lease, wallet);
            var transaction = await TenantChain.Connect(context).TopUpAsync(wallet, lease, value, ct);
            var target = Credits.Max(lease.Escrowed, lease.Deposit) + value;
            var topped = await WaitForAsync(api, lease.Id, l => l.Escrowed >= target, ct);
            context.Print(new { lease = topped, transaction }, console =>
                console.MarkupLine(Markup.Escape($"The escrow of {LeaseIds.Format(topped.Id)} holds {topped.Escrowed} (transaction {transaction}).")));
        }));
        return command;
    }

    private static Command EndCommand()
    {
        var ids = new Argument<string[]>("id")
        {
            Description = "The lease id(s) to end; several end together, and the final vouchers of those at one provider are signed once, as one bundle.",
            Arity = ArgumentArity.OneOrMore,
        };
        var tenant = TenantOption();
        var command = new Command("end", "End leases, sign the final vouchers for what they owe, and wait until they are settled on chain.") { ids, tenant };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var wallet = context.Tenant(parse.GetValue(tenant));
            var api = context.Api();
            var leaseIds = DistinctLeaseIds(parse.GetValue(ids)!);
            var several = leaseIds.Count > 1;

            // Of several leases, one the host refuses (or that does not settle in time) is reported at the end and the
            // others go on; one lease alone keeps the refusal as its error, as it always has.
            async Task<(LeaseSnapshot? Lease, LeaseProblem? Problem)> AttemptAsync(string leaseId, Func<Task<LeaseSnapshot>> step)
            {
                try
                {
                    return (await step(), null);
                }
                catch (ApiException refused) when (several)
                {
                    // No host at all is no HTTP status, as for one lease.
                    return (null, new LeaseProblem(leaseId, $"Lease {leaseId}: {refused.Summary}",
                        refused.Status == 0 ? null : refused.Status, refused.Reason ?? (refused.Status == 0 ? refused.Title : null), refused.Field));
                }
                catch (CliException failed) when (several)
                {
                    return (null, new LeaseProblem(leaseId, failed.Message));
                }
            }

            var ended = await Task.WhenAll(leaseIds.Select(id => AttemptAsync(id, () => api.EndLeaseAsync(id, wallet.PrivateKey, ct))));
            var problems = ended.Select(e => e.Problem).OfType<LeaseProblem>().ToList();
            var leases = ended.Select(e => e.Lease).OfType<LeaseSnapshot>().ToList();

            var toSign = leases.Where(l => l.Status == LeaseStatus.Ended && l.FinalVoucher is null).ToList();
            if (toSign.Count > 0)
            {
                var vouchers = TenantChain.Connect(context).SignFinalVouchers(wallet, toSign, context.Devnet.ReadSessionKey);
                // Sent together, so that the members of a bundle reach their provider's settlement queue together.
                var submitted = await Task.WhenAll(toSign.Select((lease, i) =>
                    AttemptAsync(LeaseIds.Format(lease.Id), () => api.SubmitVoucherAsync(LeaseIds.Format(lease.Id), vouchers[i], wallet.PrivateKey, ct))));
                problems.AddRange(submitted.Select(s => s.Problem).OfType<LeaseProblem>());
                var accepted = submitted.Select(s => s.Lease).OfType<LeaseSnapshot>().ToDictionary(l => l.Id);
                var refused = toSign.Where((_, i) => submitted[i].Lease is null).Select(l => l.Id).ToHashSet();
                leases = leases.Where(l => !refused.Contains(l.Id)).Select(l => accepted.GetValueOrDefault(l.Id, l)).ToList();
            }

            var waited = await Task.WhenAll(leases.Select(lease => lease.Status == LeaseStatus.Ended
                ? AttemptAsync(LeaseIds.Format(lease.Id), () => WaitForAsync(api, lease.Id, l => l.Status != LeaseStatus.Ended, ct))
                : Task.FromResult<(LeaseSnapshot? Lease, LeaseProblem? Problem)>((lease, null))));
            problems.AddRange(waited.Select(w => w.Problem).OfType<LeaseProblem>());
            var finals = waited.Select(w => w.Lease).OfType<LeaseSnapshot>().ToList();

            void Show(IAnsiConsole console, LeaseSnapshot final)
            {
                console.MarkupLine($"[green]Lease {LeaseIds.Format(final.Id)} is {final.Status}[/]");
                Describe(console, final);
                if (final.Refunded > Credits.Zero)
                    console.MarkupLine(Markup.Escape(
                        $"The unused {final.Refunded} is in {final.Tenant}'s escrow balance: the next lease draws on it, or withdraw it with `occ balance withdraw`."));
            }
            // One lease prints as one object, as it always has; several as an array.
            if (several) context.Print(finals, console => finals.ForEach(final => Show(console, final)));
            else context.Print(finals[0], console => Show(console, finals[0]));

            problems.AddRange(finals.Where(l => l.Status is not (LeaseStatus.Settled or LeaseStatus.Cancelled))
                .Select(l => new LeaseProblem(LeaseIds.Format(l.Id), Explain(l))));
            if (problems.Count == 0) return;
            // One lease alone fails as it always has; of several, each failing lease is named with its own reason.
            if (!several) throw new CliException(problems[0].Error);
            throw new LeaseProblemsException(problems);
        }));
        return command;
    }

    /// <summary>
    /// The leases <c>lease end</c> was given, each once however it was written (with or without its dashes, in either
    /// case): one lease asked to end twice would be signed for and reported twice. Of several, a mistyped id refuses the
    /// whole command before any lease ends, as bad input changes nothing; one id alone is the host's to refuse.
    /// </summary>
    private static List<string> DistinctLeaseIds(IReadOnlyList<string> given)
    {
        var seen = new HashSet<Guid>();
        var distinct = new List<string>();
        foreach (var text in given)
        {
            if (!LeaseIds.TryParse(text, out var leaseId))
            {
                if (given.Count > 1) throw new CliException($"'{text}' is not a lease id (32 hex digits); no lease was ended.");
                return [text];
            }
            if (seen.Add(leaseId)) distinct.Add(LeaseIds.Format(leaseId));
        }
        return distinct;
    }

    /// <summary>" --tenant tenant2" when the lease is not the default wallet's, so that a printed command acts for its tenant.</summary>
    private static string AsTenant(CliContext context, LeaseSnapshot lease)
    {
        var wallets = context.Devnet.ReadWallets();
        var index = wallets.ToList().FindIndex(w => string.Equals(w.Address, lease.Tenant, StringComparison.OrdinalIgnoreCase));
        return index switch { 0 => "", > 0 => $" --tenant {wallets[index].Name}", _ => $" --tenant {lease.Tenant}" };
    }

    /// <summary>Refuses a lease of another tenant than <paramref name="wallet"/>: its escrow is not the wallet's to fund or top up.</summary>
    private static void RequireTenant(LeaseSnapshot lease, TenantWallet wallet)
    {
        if (!string.Equals(lease.Tenant, wallet.Address, StringComparison.OrdinalIgnoreCase))
            throw new CliException($"Lease {LeaseIds.Format(lease.Id)} belongs to {lease.Tenant}, not {wallet.Name} ({wallet.Address}).");
    }

    /// <summary>
    /// Why a lease is where it is: its status and the reason of the transition that brought it there (not of what was
    /// recorded since in that status, such as a payment on chain or a voucher accepted).
    /// </summary>
    private static string Explain(LeaseSnapshot lease)
    {
        var since = lease.History.Count - 1;
        while (since > 0 && lease.History[since - 1].Status == lease.Status) since--;
        var why = lease.History[since];
        return $"Lease {LeaseIds.Format(lease.Id)} is {lease.Status}: {why.Reason} {why.Detail}";
    }

    /// <summary>
    /// Polls the lease until <paramref name="done"/> holds; the host learns of funding and settlement from chain events.
    /// A host that stops answering for a while (a restart) is waited for too, until the same deadline.
    /// </summary>
    private static async Task<LeaseSnapshot> WaitForAsync(MarketApiClient api, Guid leaseId, Func<LeaseSnapshot, bool> done, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + WaitForChain;
        while (true)
        {
            LeaseSnapshot? lease = null;
            try
            {
                lease = await api.GetLeaseAsync(LeaseIds.Format(leaseId), ct);
                if (done(lease)) return lease;
            }
            catch (ApiException unreachable) when (unreachable.Status == 0)
            {
                // Waited for like a lease that has not moved yet, until the deadline below.
            }
            if (DateTime.UtcNow > deadline)
                throw new CliException($"Lease {LeaseIds.Format(leaseId)} is still {lease?.Status.ToString() ?? "unknown (the host does not answer)"} after {WaitForChain.TotalSeconds:0} s; check `occ devnet status`.");
            await Task.Delay(250, ct);
        }
    }

    private static void Describe(IAnsiConsole console, LeaseSnapshot lease)
    {
        var grid = new Grid().AddColumn().AddColumn();
        void Row(string name, object? value)
        {
            if (value is null) return;
            var text = value is DateTimeOffset at ? at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'") : value.ToString()!;
            grid.AddRow(name, Markup.Escape(text));
        }
        Row("lease", LeaseIds.Format(lease.Id));
        Row("chain lease id", lease.ChainLeaseId);
        Row("status", lease.Status);
        Row("tenant", lease.Tenant);
        Row("kind", $"{lease.Request.Kind} × {lease.Request.Slots} for {lease.Request.Hours} h");
        Row("pool", lease.PoolKey);
        Row("provider", $"{lease.ProviderId} ({lease.ProviderAddress})");
        Row("slots", string.Join(", ", lease.SlotKeys));
        Row("price per slot-hour", lease.PricePerSlotHour);
        Row("billed by", lease.Request.BillBy == LeaseBillingMode.Tokens ? "tokens (price per 1M tokens of the kind)" : "hours");
        // What is still in the escrow: its deposit less what settlements have paid out of it to the provider.
        Row("escrow holds", lease.Status is LeaseStatus.Settled or LeaseStatus.Refunded ? "nothing: closed on chain"
            : lease.Escrowed == Credits.Zero ? null : lease.Escrowed - lease.Paid);
        Row("owed so far", lease.OwedSoFar);
        Row("last voucher", lease.LastVoucher is { } last ? $"{last.Amount}" : null);
        Row("escrow left", lease.Request.BillBy == LeaseBillingMode.Tokens && lease.Escrowed > Credits.Zero ? lease.Escrowed - lease.AmountOwed : null);
        Row("voucher signer", lease.VoucherSigner is { } signer ? $"session key {signer}" : null);
        Row("escrow channel", lease.Channel);
        Row("inference", lease.Usage.Requests == 0 ? null
            : $"{lease.Usage.Requests} request(s): {lease.Usage.PromptTokens} prompt + {lease.Usage.CompletionTokens} completion = {lease.Usage.TotalTokens} tokens");
        Row("deposit", lease.Deposit);
        Row("fund by", lease.Status == LeaseStatus.Reserved ? lease.FundBy : null);
        Row("starts", lease.StartsAt);
        Row("started", lease.StartedAt);
        Row("ends", lease.EndsAt);
        Row("ended", lease.EndedAt);
        Row("owed", lease.EndedAt is null ? null : lease.AmountOwed);
        Row("paid to provider", lease.Paid);
        Row("refunded", lease.Status is LeaseStatus.Settled or LeaseStatus.Refunded ? $"{lease.Refunded} to the tenant's escrow balance (occ balance)" : null);
        Row("escrow transaction", lease.FundingTransaction);
        Row("settlement transaction", lease.SettlementTransaction);
        console.Write(grid);

        var history = new Table().AddColumns("at", "status", "reason", "detail");
        foreach (var t in lease.History) history.AddRow(t.At.ToString("HH:mm:ss"), t.Status.ToString(), t.Reason, Markup.Escape(t.Detail ?? ""));
        console.Write(history);
    }
}
