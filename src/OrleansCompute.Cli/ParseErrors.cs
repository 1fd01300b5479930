using System.Globalization;
using System.Text.RegularExpressions;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Cli;

/// <summary>Command-line parse errors in the user's terms: what the option takes, not the .NET type it failed to parse as.</summary>
public static partial class ParseErrors
{
    public static string Explain(string message)
    {
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

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for option '(?<option>[^']+)' as expected type '(?<type>[^']+)'", RegexOptions.Singleline)]
    private static partial Regex CannotParse();
}
