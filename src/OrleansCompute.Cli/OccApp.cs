using System.CommandLine;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Cli.Api;
using OrleansCompute.Cli.Commands;

namespace OrleansCompute.Cli;

/// <summary>The <c>occ</c> command tree. Errors go to stderr with exit code 1; --json and --api work on every command.</summary>
public static class OccApp
{
    public static readonly Option<bool> JsonOption = new("--json")
    {
        Description = "Machine-readable JSON output.",
        Recursive = true,
    };

    public static readonly Option<string?> ApiOption = new("--api")
    {
        Description = $"The host's base URL (default: the devnet's, else {CliContext.DefaultApiUrl}).",
        Recursive = true,
    };

    // Tests run occ in-process against a devnet of their own; the shell always uses <checkout>/.devnet.
    private static readonly AsyncLocal<string?> DevnetDirectoryOverride = new();

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error,
        string? devnetDirectory = null, CancellationToken cancellationToken = default)
    {
        DevnetDirectoryOverride.Value = devnetDirectory;
        var root = new RootCommand("occ: lease AI accelerator capacity on OrleansCompute, run a local devnet, inspect grain state.");
        root.Options.Add(JsonOption);
        root.Options.Add(ApiOption);
        root.Subcommands.Add(DevnetCommands.Create());
        root.Subcommands.Add(OfferCommands.Create());
        root.Subcommands.Add(QuoteCommands.Create());
        root.Subcommands.Add(LeaseCommands.Create());
        root.Subcommands.Add(BalanceCommands.Create());
        root.Subcommands.Add(OrderCommands.Create());
        root.Subcommands.Add(InferCommands.Create());
        root.Subcommands.Add(ProviderCommands.Create());
        root.Subcommands.Add(InspectCommands.Create());
        root.Subcommands.Add(AuditCommands.Create());

        var parse = root.Parse(args);
        // A mistyped option gets its one-line error, not the command's whole help after it (--help shows that).
        if (parse.Action is System.CommandLine.Invocation.ParseErrorAction parseError) parseError.ShowHelp = false;
        return await parse.InvokeAsync(new InvocationConfiguration
        {
            Output = output,
            Error = error,
            // `devnet up` needs time after Ctrl+C to stop the host and let Anvil write its state.
            ProcessTerminationTimeout = TimeSpan.FromSeconds(30),
        }, cancellationToken);
    }

    /// <summary>Wraps a command's work: builds its context and turns every expected failure into a message and exit code 1.</summary>
    public static Func<ParseResult, CancellationToken, Task<int>> Action(Func<CliContext, ParseResult, CancellationToken, Task> run) =>
        async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            try
            {
                var root = FoundryToolchain.FindRepositoryRoot();
                var devnet = DevnetDirectoryOverride.Value ?? Path.Combine(root, ".devnet");
                var context = new CliContext(parse.GetValue(JsonOption), parse.GetValue(ApiOption), root, devnet, output, error);
                await run(context, parse, ct);
                return 0;
            }
            catch (ApiException e)
            {
                await error.WriteLineAsync($"error: {e.Summary}");
                return 1;
            }
            catch (ChainRevertException e)
            {
                await error.WriteLineAsync($"error: the chain refused: {e.Message}");
                return 1;
            }
            catch (Exception e) when (e is HttpRequestException or TimeoutException
                                       or Nethereum.JsonRpc.Client.RpcClientUnknownException or Nethereum.JsonRpc.Client.RpcResponseException)
            {
                await error.WriteLineAsync($"error: the chain did not answer or refused: {e.Message}. Is `occ devnet up` running (occ devnet status)?");
                return 1;
            }
            catch (CliException e)
            {
                await error.WriteLineAsync($"error: {e.Message}");
                return 1;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return 130;
            }
        };
}
