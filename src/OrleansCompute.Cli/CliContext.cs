using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Accounts;
using OrleansCompute.Cli.Api;
using OrleansCompute.Cli.Devnet;
using Spectre.Console;

namespace OrleansCompute.Cli;

/// <summary>What every command needs: where the host and devnet files are, who signs, and how to print.</summary>
public sealed class CliContext(bool json, string? apiUrl, string repositoryRoot, string devnetDirectory, TextWriter output, TextWriter error)
{
    public const string DefaultApiUrl = "http://127.0.0.1:5080";

    public bool Json { get; } = json;
    public TextWriter Output { get; } = output;
    public TextWriter Error { get; } = error;
    public DevnetFiles Devnet { get; } = new(devnetDirectory);
    public string RepositoryRoot { get; } = repositoryRoot;

    public IAnsiConsole Console { get; } = CreateConsole(output);

    /// <summary>Whether --api names the host: then it alone is asked, not the devnet's hosts.</summary>
    public bool ApiGiven => apiUrl is not null;

    /// <summary>--api, else the devnet's host, else the default loopback address.</summary>
    public string ApiUrl => apiUrl ?? Devnet.ReadConfig()?.ApiUrl ?? DefaultApiUrl;

    /// <summary>--api alone, else every host of the devnet (the first is <see cref="ApiUrl"/>), else the default address.</summary>
    public IReadOnlyList<Uri> HostUrls =>
        (apiUrl is not null ? [apiUrl] : Devnet.ReadConfig()?.AllHostUrls ?? [DefaultApiUrl]).Select(url => new Uri(url)).ToList();

    /// <summary>
    /// The host's API, reached through <see cref="HostFailoverHandler"/>: when a host of the devnet is gone the command
    /// goes on with another. The handler enforces a 30 s timeout per attempt, so the client sets none of its own.
    /// </summary>
    public MarketApiClient Api() => _api ??= new MarketApiClient(new HttpClient(new HostFailoverHandler(HostUrls, Notice))
        { BaseAddress = HostUrls[0], Timeout = Timeout.InfiniteTimeSpan });

    /// <summary>A client for the host's OpenAI-compatible gateway; no timeout, as a streamed answer may run long.</summary>
    public InferenceClient Inference() => new(new HttpClient(new HostFailoverHandler(HostUrls, Notice) { AttemptTimeout = Timeout.InfiniteTimeSpan })
        { BaseAddress = HostUrls[0], Timeout = Timeout.InfiniteTimeSpan });

    private MarketApiClient? _api;

    // With --json a note is a JSON line too, so that stderr stays machine-readable.
    private void Notice(string message) =>
        Error.WriteLine(Json ? System.Text.Json.JsonSerializer.Serialize(new { note = message }, ApiJson.Options) : $"note: {message}");

    /// <summary>The tenant to sign for: a wallet name (tenant1…) or address from <c>.devnet/wallets.json</c>; the first by default.</summary>
    public TenantWallet Tenant(string? nameOrAddress)
    {
        var wallets = Devnet.ReadWallets();
        if (wallets.Count == 0)
            throw new CliException($"No tenant wallets in {Devnet.WalletsPath}: run `occ devnet up` first.");
        if (nameOrAddress is null) return wallets[0];
        if (nameOrAddress.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && !AccountKeys.IsAddress(nameOrAddress))
            throw new CliException($"--tenant: '{nameOrAddress}' is not an Ethereum address (0x and 40 hex digits).");
        return wallets.FirstOrDefault(w => string.Equals(w.Name, nameOrAddress, StringComparison.OrdinalIgnoreCase)
                                        || string.Equals(w.Address, nameOrAddress, StringComparison.OrdinalIgnoreCase))
            ?? throw new CliException($"--tenant: no wallet '{nameOrAddress}' in {Devnet.WalletsPath}; known: {string.Join(", ", wallets.Select(w => w.Name))}.");
    }

    public DevnetConfig DevnetConfig() =>
        Devnet.ReadConfig() ?? throw new CliException($"No devnet at {Devnet.ConfigPath}: run `occ devnet up` first.");

    private static IAnsiConsole CreateConsole(TextWriter output)
    {
        var terminal = output == System.Console.Out && !System.Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
        });
        // Piped or captured output has no terminal width; tables would wrap at 80 columns.
        if (!terminal) console.Profile.Width = 160;
        return console;
    }

    /// <summary>Prints <paramref name="value"/> as JSON with --json, otherwise runs <paramref name="human"/>.</summary>
    public void Print<T>(T value, Action<IAnsiConsole> human)
    {
        if (Json) Output.WriteLine(JsonSerializer.Serialize(value, new JsonSerializerOptions(ApiJson.Options) { WriteIndented = true }));
        else human(Console);
    }
}
