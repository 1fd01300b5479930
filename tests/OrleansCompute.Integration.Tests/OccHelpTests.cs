using System.Text.RegularExpressions;
using OrleansCompute.Cli;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>`occ … --help` as a user reads it: each option says what it takes once.</summary>
public sealed class OccHelpTests
{
    [Theory]
    [InlineData("provider", "withdraw")]
    [InlineData("provider", "balance")]
    public async Task The_provider_option_names_what_it_takes_once(params string[] command)
    {
        var output = new StringWriter();
        var exit = await OccApp.RunAsync([.. command, "--help"], output, new StringWriter(), Path.GetTempPath());

        Assert.Equal(0, exit);
        var help = Regex.Replace(output.ToString(), @"\s+", " ");
        Assert.Single(Regex.Matches(help, Regex.Escape("a wallet name (provider1…)"), RegexOptions.IgnoreCase));
    }
}
