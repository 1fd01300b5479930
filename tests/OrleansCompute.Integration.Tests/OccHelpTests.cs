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

    [Fact]
    public async Task The_billing_option_shows_the_values_a_user_types()
    {
        var output = new StringWriter();
        var exit = await OccApp.RunAsync(["lease", "create", "--help"], output, new StringWriter(), Path.GetTempPath());

        Assert.Equal(0, exit);
        Assert.Contains("--bill-by <hours|tokens>", output.ToString());
    }

    [Theory]
    [InlineData(new string[0], "occ needs a command: devnet, offers, quote, lease,")]
    [InlineData(new[] { "lease" }, "occ lease needs a command: create, list, show, end,")]
    [InlineData(new[] { "provider" }, "occ provider needs a command: pool, drain, balance, withdraw")]
    [InlineData(new[] { "lease", "create", "--kind", "h100", "--hours", "1", "--slot", "2" }, "`occ lease create --help` lists what it takes")]
    public async Task A_command_left_out_or_mistyped_is_named_with_what_the_command_takes(string[] args, string expected)
    {
        var error = new StringWriter();
        var exit = await OccApp.RunAsync(args, new StringWriter(), error, Path.GetTempPath());

        Assert.Equal(1, exit);
        Assert.Contains(expected, error.ToString());
    }

    [Theory]
    [InlineData(new[] { "ofers" }, "error: occ has no command 'ofers'; did you mean 'offers'? (`occ --help` lists the commands)")]
    [InlineData(new[] { "lease", "creat", "--kind", "h100" }, "error: occ lease has no command 'creat'; did you mean 'create'? (`occ lease --help` lists the commands)")]
    [InlineData(new[] { "order", "show", "1" }, "error: occ order has no command 'show'; it has place, list, cancel (`occ order --help` says what each does).")]
    public async Task A_mistyped_command_is_one_line_naming_the_command_meant_when_one_is_close(string[] args, string expected)
    {
        var error = new StringWriter();
        var exit = await OccApp.RunAsync(args, new StringWriter(), error, Path.GetTempPath());

        Assert.Equal(1, exit);
        Assert.Equal(expected, error.ToString().TrimEnd());
    }

    [Theory]
    [InlineData(new[] { "lease", "end" }, "error: occ lease end needs <ID>… (the lease id(s) to end); see occ lease end --help.")]
    [InlineData(new[] { "lease", "show" }, "error: occ lease show needs <ID> (the lease id); see occ lease show --help.")]
    [InlineData(new[] { "lease", "top-up", "0123" }, "error: occ lease top-up needs <AMOUNT> (credits to add); see occ lease top-up --help.")]
    [InlineData(new[] { "infer", "0123" }, "error: occ infer needs <PROMPT> (what to ask); see occ infer --help.")]
    [InlineData(new[] { "inspect" }, "error: occ inspect needs <KIND> (the grain kind); see occ inspect --help.")]
    public async Task A_missing_argument_is_named_with_what_it_is_and_where_the_usage_is(string[] args, string expected)
    {
        var error = new StringWriter();
        var exit = await OccApp.RunAsync(args, new StringWriter(), error, Path.GetTempPath());

        Assert.Equal(1, exit);
        Assert.Equal(expected, error.ToString().TrimEnd());
    }
}
