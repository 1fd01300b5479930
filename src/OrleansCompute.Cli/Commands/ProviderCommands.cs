using System.CommandLine;
using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Cli.Api;
using OrleansCompute.Cli.Devnet;
using Spectre.Console;

namespace OrleansCompute.Cli.Commands;

/// <summary>
/// <c>occ provider …</c>: what a provider does, signed with its payout key (kept in .devnet/providers.json on the devnet):
/// offer capacity (define or resize a pool), take a slot back (drain), and see and take out what settlements paid it.
/// </summary>
public static class ProviderCommands
{
    public static Command Create()
    {
        var provider = new Command("provider", "Provider operations, signed with the provider's payout key: pools, drains, earnings.");
        provider.Subcommands.Add(PoolCommand());
        provider.Subcommands.Add(DrainCommand());
        provider.Subcommands.Add(BalanceCommand());
        provider.Subcommands.Add(WithdrawCommand());
        return provider;
    }

    private static Command PoolCommand()
    {
        var key = new Argument<string>("pool") { Description = "provider/pool, e.g. helios/mi300x-usw2; a key no pool has yet creates one." };
        var kind = new Option<string?>("--kind") { Description = "Accelerator kind of a new pool (a pool never changes kind)." };
        var region = new Option<string?>("--region") { Description = "Region of a new pool, e.g. us-east-1 (a pool never moves)." };
        var slots = new Option<int?>("--slots") { Description = "How many slots the pool has: more adds capacity, fewer removes free slots (never one that is booked)." };
        var floor = new Option<string?>("--floor-price") { Description = "The lowest price per slot-hour the pool's live price may reach." };
        var ceiling = new Option<string?>("--ceiling-price") { Description = $"The highest (default: {PoolDefinition.DefaultCeilingMultiple} × the floor)." };
        var payout = new Option<string?>("--payout")
            { Description = "A new provider's payout wallet (provider1…, or its address); a provider's further pools pay where its first does." };
        var command = new Command("pool", "Create a pool, or change its size and prices. Unchanged options keep the pool's values.")
            { key, kind, region, slots, floor, ceiling, payout };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var poolKey = parse.GetValue(key)!;
            if (!MarketKeys.TryParsePool(poolKey, out var providerId, out var poolName))
                throw new CliException($"pool: '{poolKey}' is not a pool key (provider/pool).");
            var api = context.Api();
            var floorPrice = Price(floor, parse.GetValue(floor));
            var ceilingPrice = Price(ceiling, parse.GetValue(ceiling));

            var current = await DefinitionOfAsync(api, poolKey, ct);
            PoolDefinition definition;
            TenantWallet signer;
            if (current is null)
            {
                var missing = new (string Name, bool Given)[]
                    { ("--kind", parse.GetValue(kind) is not null), ("--region", parse.GetValue(region) is not null), ("--slots", parse.GetValue(slots) is not null), ("--floor-price", floorPrice is not null) }
                    .Where(o => !o.Given).Select(o => o.Name).ToList();
                if (missing.Count > 0)
                    throw new CliException($"There is no pool {poolKey} yet; a new pool needs {string.Join(", ", missing)}.");
                signer = parse.GetValue(payout) is { } named
                    ? ProviderWallet(context, named)
                    : await WalletOfProviderAsync(context, api, providerId, ct)
                      ?? throw new CliException($"--payout: {providerId} has no pool yet, so name the wallet its leases pay (e.g. provider1).");
                definition = new PoolDefinition(providerId, poolName, parse.GetValue(kind)!, parse.GetValue(region)!, parse.GetValue(slots)!.Value,
                    floorPrice!.Value, signer.Address, ceilingPrice);
            }
            else
            {
                signer = WalletOfPayout(context, current.PayoutAddress, poolKey);
                if (parse.GetValue(payout) is { } named && !string.Equals(ProviderWallet(context, named).Address, current.PayoutAddress, StringComparison.OrdinalIgnoreCase))
                    throw new CliException($"--payout: {poolKey} pays {current.PayoutAddress}; a pool's payout address does not change.");
                definition = current with
                {
                    Kind = parse.GetValue(kind) ?? current.Kind,
                    Region = parse.GetValue(region) ?? current.Region,
                    SlotCount = parse.GetValue(slots) ?? current.SlotCount,
                    FloorPricePerSlotHour = floorPrice ?? current.FloorPricePerSlotHour,
                    CeilingPricePerSlotHour = ceilingPrice ?? current.CeilingPricePerSlotHour,
                };
            }

            var pool = await api.DefinePoolAsync(definition, signer.PrivateKey, ct);
            context.Print(pool, console =>
            {
                var defined = pool.Definition!;
                console.MarkupLine(Markup.Escape($"{(current is null ? "Created" : "Updated")} {pool.Key}: {defined.SlotCount} {defined.Kind} slot(s) in {defined.Region}, " +
                                                 $"{pool.AvailableSlots} free; price {pool.PricePerSlotHour} per slot-hour (floor {defined.FloorPricePerSlotHour}, ceiling {defined.Ceiling}); pays {defined.PayoutAddress}."));
            });
        }));
        return command;
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
            // An unknown pool is the host's refusal as it stands (404 UnknownPool), as `occ inspect pool` reports it.
            var pool = await ExistingDefinitionAsync(api, poolKey, ct);
            var wallet = WalletOfPayout(context, pool.PayoutAddress, poolKey);

            var drained = await api.DrainSlotAsync(poolKey, index, parse.GetValue(notice), wallet.PrivateKey, ct);
            context.Print(drained, console => console.MarkupLine(Markup.Escape(
                $"Draining {drained.GetProperty("slot").GetString()}: {drained.GetProperty("leases").GetArrayLength()} lease(s) get {parse.GetValue(notice)} min notice.")));
        }));
        return command;
    }

    private static Command BalanceCommand()
    {
        var provider = ProviderOption("Only this provider. Default: every provider wallet of the devnet.");
        var command = new Command("balance", "What settled leases have paid each provider into the escrow (to withdraw), and its wallet.") { provider };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var wallets = parse.GetValue(provider) is { } named ? [await ResolveAsync(context, context.Api(), named, ct)] : ProviderWallets(context);
            var chain = ProviderChain.Connect(context);
            var ids = await ProviderIdsByPayoutAsync(context.Api(), ct);
            var balances = new List<ProviderBalance>();
            foreach (var wallet in wallets)
            {
                var (owed, inWallet) = await chain.BalancesAsync(wallet.Address, ct);
                balances.Add(new ProviderBalance(wallet.Name, wallet.Address, owed, inWallet)
                {
                    ProviderIds = ids.TryGetValue(wallet.Address, out var paid) ? paid : [],
                });
            }
            context.Print(balances, console =>
            {
                var table = new Table().AddColumns("wallet", "provider ids", "payout address", "in the escrow (to withdraw)", "in the wallet");
                foreach (var b in balances)
                    table.AddRow(b.Name, b.ProviderIds.Count == 0 ? "(no pools)" : string.Join(", ", b.ProviderIds), b.Address, b.EscrowBalance.ToString(), b.Wallet.ToString());
                console.Write(table);
                console.MarkupLine(Markup.Escape("`occ provider withdraw --provider ID` (a provider id or wallet) pays a provider's escrow balance to its wallet."));
            });
        }));
        return command;
    }

    private static Command WithdrawCommand()
    {
        var provider = ProviderOption("The provider to pay out.");
        provider.Required = true;
        var command = new Command("withdraw", "Pay a provider's whole balance in the escrow to its wallet, from its payout key.") { provider };
        command.SetAction(OccApp.Action(async (context, parse, ct) =>
        {
            var api = context.Api();
            var wallet = await ResolveAsync(context, api, parse.GetValue(provider)!, ct);
            var (amount, transaction) = await ProviderChain.Connect(context).WithdrawAsync(wallet, ct);
            var ids = (await ProviderIdsByPayoutAsync(api, ct)).GetValueOrDefault(wallet.Address) ?? [];
            var whose = ids.Count == 0 ? wallet.Name : $"{string.Join(", ", ids)} (wallet {wallet.Name})";
            context.Print(new { provider = wallet.Address, providerIds = ids, withdrawn = amount, transaction }, console =>
                console.MarkupLine(Markup.Escape($"Withdrew {amount} from the escrow to {whose}, {wallet.Address}, in transaction {transaction}.")));
        }));
        return command;
    }

    private static Option<string?> ProviderOption(string description) =>
        new("--provider") { Description = description + " A wallet name (provider1…), an address, or a provider id of its pools (neuron-cloud)." };

    private static Credits? Price(Option<string?> option, string? text) => CreditsArgument.Parse(option.Name, text, positive: true);

    /// <summary>The pool's definition, or null when no pool has that key.</summary>
    private static async Task<PoolDefinition?> DefinitionOfAsync(MarketApiClient api, string poolKey, CancellationToken ct)
    {
        try
        {
            return (await api.InspectAsync("pool", poolKey, ct)).GetProperty("definition").Deserialize<PoolDefinition>(ApiJson.Options);
        }
        catch (ApiException e) when (e.Reason == "UnknownPool")
        {
            return null;
        }
    }

    /// <summary>The definition of a pool that must exist; the host's problem (404 UnknownPool) when it does not.</summary>
    private static async Task<PoolDefinition> ExistingDefinitionAsync(MarketApiClient api, string poolKey, CancellationToken ct) =>
        (await api.InspectAsync("pool", poolKey, ct)).GetProperty("definition").Deserialize<PoolDefinition>(ApiJson.Options)!;

    /// <summary>Which provider ids each payout address is paid for: the providers of the market's pools, by the address their pools pay.</summary>
    public static async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> ProviderIdsByPayoutAsync(MarketApiClient api, CancellationToken ct)
    {
        var firstPools = (await api.GetOffersAsync(null, null, ct)).GroupBy(o => o.ProviderId).Select(g => g.First().PoolKey);
        var definitions = await Task.WhenAll(firstPools.Select(pool => DefinitionOfAsync(api, pool, ct)));
        return definitions.OfType<PoolDefinition>()
            .GroupBy(d => d.PayoutAddress, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(d => d.ProviderId).Order(StringComparer.Ordinal).ToList(), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>A provider wallet by its name or address, a provider id's payout wallet, or a refusal naming what is known.</summary>
    private static async Task<TenantWallet> ResolveAsync(CliContext context, MarketApiClient api, string name, CancellationToken ct) =>
        FindWallet(context, name)
        ?? await WalletOfProviderAsync(context, api, name, ct)
        ?? throw new CliException($"--provider: '{name}' is neither a provider wallet ({string.Join(", ", ProviderWallets(context).Select(w => w.Name))}) nor the id of a provider with pools (occ offers).");

    private static TenantWallet ProviderWallet(CliContext context, string name) =>
        FindWallet(context, name)
        ?? throw new CliException($"--payout: no provider wallet '{name}' in {context.Devnet.ProviderWalletsPath}; known: {string.Join(", ", ProviderWallets(context).Select(w => w.Name))}.");

    private static TenantWallet? FindWallet(CliContext context, string nameOrAddress) =>
        ProviderWallets(context).FirstOrDefault(w => string.Equals(w.Name, nameOrAddress, StringComparison.OrdinalIgnoreCase)
                                                  || string.Equals(w.Address, nameOrAddress, StringComparison.OrdinalIgnoreCase));

    /// <summary>The wallet the pools of <paramref name="providerId"/> pay, found through any one of them; null when it has none.</summary>
    private static async Task<TenantWallet?> WalletOfProviderAsync(CliContext context, MarketApiClient api, string providerId, CancellationToken ct)
    {
        var offer = (await api.GetOffersAsync(null, null, ct)).FirstOrDefault(o => o.ProviderId == providerId);
        if (offer is null || await DefinitionOfAsync(api, offer.PoolKey, ct) is not { } pool) return null;
        return WalletOfPayout(context, pool.PayoutAddress, offer.PoolKey);
    }

    private static TenantWallet WalletOfPayout(CliContext context, string payout, string poolKey) =>
        ProviderWallets(context).FirstOrDefault(w => string.Equals(w.Address, payout, StringComparison.OrdinalIgnoreCase))
        ?? throw new CliException($"No key for {poolKey}'s provider ({payout}) in {context.Devnet.ProviderWalletsPath}.");

    private static IReadOnlyList<TenantWallet> ProviderWallets(CliContext context) =>
        context.Devnet.ReadProviderWallets() is { Count: > 0 } wallets
            ? wallets
            : throw new CliException($"No provider wallets in {context.Devnet.ProviderWalletsPath}: run `occ devnet up` first.");

    private static (string PoolKey, int Index) ParseSlot(string key)
    {
        try
        {
            return MarketKeys.ParseSlot(key);
        }
        catch (MarketException e)
        {
            throw new CliException(e.Message);
        }
    }
}

/// <summary>A provider's earnings: settled to it in the escrow (to withdraw), and already in its wallet.</summary>
public sealed record ProviderBalance(string Name, string Address, Credits EscrowBalance, Credits Wallet)
{
    /// <summary>The provider ids whose pools pay this address.</summary>
    public IReadOnlyList<string> ProviderIds { get; init; } = [];
}
