using OrleansCompute.Abstractions;

namespace OrleansCompute.Cli;

/// <summary>An amount of credits given on the command line, refused with the reason (not a number, too many decimals, too large, not above zero).</summary>
public static class CreditsArgument
{
    /// <returns>The amount, or null when <paramref name="text"/> is null (the option was not given).</returns>
    /// <exception cref="CliException">It is not an amount of credits, or (when <paramref name="positive"/>) not above zero.</exception>
    public static Credits? Parse(string name, string? text, bool positive = false)
    {
        if (text is null) return null;
        if (!Credits.TryParse(text, out var credits, out var error))
            throw new CliException($"{name}: {error}");
        if (positive && credits <= Credits.Zero)
            throw new CliException($"{name}: '{text}' is not above zero; give a positive amount of credits (e.g. 2.75).");
        return credits;
    }

    /// <inheritdoc cref="Parse"/>
    public static Credits Require(string name, string? text, bool positive = false) =>
        Parse(name, text, positive) ?? throw new CliException($"{name}: an amount of credits is needed (e.g. 2.75).");
}
