using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Cli;

/// <summary>Command-line parse errors in the user's terms: what the option takes, not the .NET type it failed to parse as.</summary>
public static partial class ParseErrors
{
    /// <summary>
    /// The lines to print for a command line that does not parse, each said once. A mistyped command is one line: System.CommandLine
    /// would also say the command was missing and refuse every token after it.
    /// </summary>
    public static IReadOnlyList<string> Explain(ParseResult parse)
    {
        if (UnknownCommand(parse) is { } typo) return [typo];
        return parse.Errors.Select(error => Explain(error.Message, parse.CommandResult)).Distinct().ToList();
    }

    private static string Explain(string message, CommandResult where)
    {
        // System.CommandLine names neither the command that wanted a subcommand nor what it takes: `occ lease` alone would
        // say "Required command was not provided." and leave the user to guess.
        if (message == "Required command was not provided.")
            return $"{CommandPath(where)} needs a command: {string.Join(", ", VisibleSubcommands(where.Command))} (`{CommandPath(where)} --help` says what each does).";
        // It names the command but not which argument is missing nor what it is.
        if (message.StartsWith("Required argument missing", StringComparison.Ordinal) && MissingArguments(where) is { Count: > 0 } missing)
            return $"{CommandPath(where)} needs {string.Join(" and ", missing.Select(Usage))}; see {CommandPath(where)} --help.";
        if (message.StartsWith("Unrecognized command or argument", StringComparison.Ordinal))
            return $"{message} `{CommandPath(where)} --help` lists what it takes.";
        if (CannotParse().Match(message) is not { Success: true } match) return message;
        var (value, option, type) = (match.Groups["value"].Value, match.Groups["option"].Value, match.Groups["type"].Value);
        var takes = type switch
        {
            _ when type.Contains("System.Int32") => $"a whole number up to {int.MaxValue.ToString("N0", CultureInfo.InvariantCulture)}",
            _ when type.Contains(nameof(LeaseBillingMode)) => $"one of {string.Join(", ", Enum.GetNames<LeaseBillingMode>().Select(n => n.ToLowerInvariant()))}",
            _ => null,
        };
        return takes is null ? message : $"{option}: '{value}' is not {takes}.";
    }

    /// <summary>
    /// A word where a command with subcommands wanted one of them: `occ ofers`, `occ lease creat --kind h100`. Named with the
    /// nearest subcommand when one is close enough to be what was meant.
    /// </summary>
    private static string? UnknownCommand(ParseResult parse)
    {
        var where = parse.CommandResult;
        var commands = VisibleSubcommands(where.Command);
        if (commands.Count == 0 || parse.UnmatchedTokens is not [var typo, ..] || typo.StartsWith('-')) return null;
        var path = CommandPath(where);
        return Nearest(typo, commands) is { } meant
            ? $"{path} has no command '{typo}'; did you mean '{meant}'? (`{path} --help` lists the commands)"
            : $"{path} has no command '{typo}'; it has {string.Join(", ", commands)} (`{path} --help` says what each does).";
    }

    /// <summary>The candidate fewest edits away, if it is close: a slip of a letter or two, or the start of its name.</summary>
    private static string? Nearest(string typo, IReadOnlyList<string> candidates)
    {
        var word = typo.ToLowerInvariant();
        var (best, distance) = candidates.Select(c => (Name: c, Distance: EditDistance(word, c))).MinBy(c => c.Distance);
        if (distance <= Math.Max(1, word.Length / 3)) return best;
        return word.Length >= 3 ? candidates.FirstOrDefault(c => c.StartsWith(word, StringComparison.Ordinal)) : null;
    }

    /// <summary>Levenshtein distance: insertions, deletions and substitutions.</summary>
    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            previous = current;
        }
        return previous[b.Length];
    }

    /// <summary>The command's arguments that got fewer values than they need.</summary>
    private static List<Argument> MissingArguments(CommandResult where) =>
        where.Command.Arguments
            .Where(argument => !argument.Hidden && (where.GetResult(argument)?.Tokens.Count ?? 0) < argument.Arity.MinimumNumberOfValues)
            .ToList();

    /// <summary>"&lt;ID&gt;… (the lease id)": the argument as help names it, and the first clause of its description.</summary>
    private static string Usage(Argument argument)
    {
        var name = $"<{(argument.HelpName ?? argument.Name).ToUpperInvariant()}>{(argument.Arity.MaximumNumberOfValues > 1 ? "…" : "")}";
        if (string.IsNullOrWhiteSpace(argument.Description)) return name;
        var clause = FirstClause().Match(argument.Description).Value.TrimEnd('.', ' ');
        return clause.Length == 0 ? name : $"{name} ({char.ToLowerInvariant(clause[0])}{clause[1..]})";
    }

    private static List<string> VisibleSubcommands(Command command) =>
        command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).ToList();

    /// <summary>"occ lease", as the user typed it; the root is occ whatever runs it (a test host, say).</summary>
    private static string CommandPath(CommandResult where)
    {
        var names = new List<string>();
        for (SymbolResult? at = where; at is CommandResult { Parent: { } } command; at = command.Parent) names.Insert(0, command.Command.Name);
        return string.Join(" ", names.Prepend("occ"));
    }

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for option '(?<option>[^']+)' as expected type '(?<type>[^']+)'", RegexOptions.Singleline)]
    private static partial Regex CannotParse();

    /// <summary>Up to the first ';', ':', " (" or sentence end: "The lease id(s) to end; several end together…" is "The lease id(s) to end".</summary>
    [GeneratedRegex(@"^.*?(?=[;:]|\s\(|\.\s+[A-Z]|\.$|$)", RegexOptions.Singleline)]
    private static partial Regex FirstClause();
}
