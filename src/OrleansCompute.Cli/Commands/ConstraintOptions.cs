using System.CommandLine;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Cli.Commands;

/// <summary>The matching constraints a lease request may carry, as options: memory, throughput, price per 1M tokens, providers, partial fill.</summary>
public sealed class ConstraintOptions
{
    private readonly Option<int?> _minMemory = new("--min-memory") { Description = "At least this much accelerator memory, GiB." };
    private readonly Option<int?> _minTokens = new("--min-tokens-per-second") { Description = "At least this reference throughput per accelerator (see occ offers)." };
    private readonly Option<string?> _maxPerMillion = new("--max-price-per-1m") { Description = "The most to pay per 1M tokens, in credits." };
    private readonly Option<string[]> _providers = new("--provider") { Description = "Only these providers (repeatable)." };
    private readonly Option<string[]> _excluded = new("--exclude-provider") { Description = "Never these providers (repeatable)." };
    private readonly Option<int?> _minSlots = new("--min-slots") { Description = "Accept a partial fill: as many slots as one pool has, at least this many (default: all or none)." };

    public void AddTo(Command command)
    {
        command.Options.Add(_minMemory);
        command.Options.Add(_minTokens);
        command.Options.Add(_maxPerMillion);
        command.Options.Add(_providers);
        command.Options.Add(_excluded);
        command.Options.Add(_minSlots);
    }

    public LeaseRequest Apply(ParseResult parse, LeaseRequest request)
    {
        var perMillion = CreditsArgument.Parse("--max-price-per-1m", parse.GetValue(_maxPerMillion));
        return request with
        {
            MinMemoryGiB = parse.GetValue(_minMemory),
            MinTokensPerSecond = parse.GetValue(_minTokens),
            MaxPricePerMillionTokens = perMillion,
            Providers = parse.GetValue(_providers) is { Length: > 0 } allowed ? allowed : null,
            ExcludeProviders = parse.GetValue(_excluded) is { Length: > 0 } excluded ? excluded : null,
            MinSlots = parse.GetValue(_minSlots),
        };
    }
}
