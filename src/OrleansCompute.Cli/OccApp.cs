using System.CommandLine;
using System.Text.Json.Serialization;
using OrleansCompute.Abstractions;
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
        // A mistyped option gets its one-line error in the user's terms, not the command's whole help after it (--help
        // shows that) nor the .NET type it failed to parse as.
        if (parse.Action is System.CommandLine.Invocation.ParseErrorAction && parse.Errors.Count > 0)
        {
            var json = args.Contains("--json");
            foreach (var message in ParseErrors.Explain(parse))
                await WriteErrorAsync(error, json, new CliError(message, null, "ParseError", null));
            return 1;
        }
        return await parse.InvokeAsync(new InvocationConfiguration
        {
            Output = output,
            Error = error,
            // `devnet up` needs time after Ctrl+C to stop the host and let Anvil write its state.
            ProcessTerminationTimeout = TimeSpan.FromSeconds(30),
        }, cancellationToken);
    }

    /// <summary>
    /// Wraps a command's work: builds its context and turns every expected failure into a message and exit code 1. With
    /// --json the message is a JSON object on stderr (<c>error</c>, and the host's <c>status</c>, <c>reason</c> and
    /// <c>field</c> when it refused), so that scripts read why as they read results.
    /// </summary>
    public static Func<ParseResult, CancellationToken, Task<int>> Action(Func<CliContext, ParseResult, CancellationToken, Task> run) =>
        async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var json = parse.GetValue(JsonOption);

            async Task<int> FailAsync(string message, ApiException? refused = null)
            {
                await WriteErrorAsync(error, json, Describe(message, refused));
                return 1;
            }

            try
            {
                var api = parse.GetValue(ApiOption);
                if (api is not null && !IsHttpUrl(api))
                    throw new CliException($"--api: '{api}' is not a host URL; give one like {CliContext.DefaultApiUrl}.");
                var root = FoundryToolchain.FindRepositoryRoot();
                var devnet = DevnetDirectoryOverride.Value ?? Path.Combine(root, ".devnet");
                var context = new CliContext(json, api, root, devnet, output, error);
                await run(context, parse, ct);
                return 0;
            }
            catch (ApiException e)
            {
                return await FailAsync(e.Summary, e);
            }
            catch (ChainRevertException e)
            {
                return await FailAsync($"the chain refused: {e.Message}");
            }
            catch (Exception e) when (e is HttpRequestException or TimeoutException
                                       or Nethereum.JsonRpc.Client.RpcClientUnknownException or Nethereum.JsonRpc.Client.RpcResponseException)
            {
                return await FailAsync($"the chain did not answer or refused: {e.Message}. Is `occ devnet up` running (occ devnet status)?");
            }
            catch (CliException e)
            {
                return await FailAsync(e.Message);
            }
            catch (LeaseProblemsException e)
            {
                // One failing lease of several reads like one lease's refusal; several are told apart by the leases list.
                var only = e.Problems is [var single] ? single : null;
                await WriteErrorAsync(error, json, new CliError(e.Message, only?.Status, only?.Reason, only?.Field) { Leases = e.Problems });
                return 1;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return 130;
            }
        };

    /// <summary>An error on stderr: one line of text, or with --json one JSON object.</summary>
    private static Task WriteErrorAsync(TextWriter error, bool json, CliError cliError) =>
        error.WriteLineAsync(json ? System.Text.Json.JsonSerializer.Serialize(cliError, ApiJson.Options) : $"error: {cliError.Error}");

    /// <summary>An error as --json prints it: the host's status, reason and field when it refused; no host at all is no HTTP status.</summary>
    private static CliError Describe(string message, ApiException? refused) => refused switch
    {
        null => new CliError(message, null, null, null),
        { Status: 0 } => new CliError(message, null, refused.Reason ?? refused.Title, refused.Field),
        _ => new CliError(message, refused.Status, refused.Reason, refused.Field),
    };

    private static bool IsHttpUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var url) && url.Scheme is "http" or "https" && !string.IsNullOrEmpty(url.Host);

    /// <summary>An error as --json prints it to stderr.</summary>
    private sealed record CliError(
        string Error,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Status,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Field)
    {
        /// <summary>Of a command on several leases, each lease that failed, with its own status and reason.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public IReadOnlyList<LeaseProblem>? Leases { get; init; }
    }
}
