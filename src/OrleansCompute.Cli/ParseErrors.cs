using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Cli;

/// <summary>Command-line parse errors in the user's terms: what the option takes, not the .NET type it failed to parse as.</summary>
public static partial class ParseErrors
{
    public static string Explain(string message, CommandResult where)
    {
        // System.CommandLine names neither the command that wanted a subcommand nor what it takes: `occ lease` alone would
        // say "Required command was not provided." and leave the user to guess.
        if (message == "Required command was not provided.")
            return $"{CommandPath(where)} needs a command: {string.Join(", ", where.Command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))} (`{CommandPath(where)} --help` says what each does).";
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

    /// <summary>"occ lease", as the user typed it; the root is occ whatever runs it (a test host, say).</summary>
    private static string CommandPath(CommandResult where)
    {
        var names = new List<string>();
        for (SymbolResult? at = where; at is CommandResult { Parent: { } } command; at = command.Parent) names.Insert(0, command.Command.Name);
        return string.Join(" ", names.Prepend("occ"));
    }

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for option '(?<option>[^']+)' as expected type '(?<type>[^']+)'", RegexOptions.Singleline)]
    private static partial Regex CannotParse();
}
