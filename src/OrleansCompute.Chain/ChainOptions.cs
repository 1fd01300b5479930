using OrleansCompute.Chain.Escrow;
using OrleansCompute.Chain.Rpc;
using OrleansCompute.Chain.Signing;

namespace OrleansCompute.Chain;

/// <summary>Where the chain is, which contracts to talk to, and who the operator is. Binds from configuration section "Chain".</summary>
public sealed class ChainOptions
{
    public string RpcUrl { get; set; } = "http://127.0.0.1:8545";

    /// <summary>Anvil's default. Part of every voucher's EIP-712 domain and every transaction signature.</summary>
    public long ChainId { get; set; } = 31337;

    public string CreditAddress { get; set; } = string.Empty;

    public string EscrowAddress { get; set; } = string.Empty;

    /// <summary>The operator's key: it submits settlement batches and pays their gas. Never a tenant's key.</summary>
    public string OperatorPrivateKey { get; set; } = string.Empty;

    /// <summary>The block the escrow was deployed in: where the event watcher starts reading.</summary>
    public long DeployBlock { get; set; }

    /// <summary>
    /// How often the chain watcher asks for new blocks: how soon the market sees an escrow funded or a lease settled. A
    /// local chain answers a poll in a millisecond; a public one with seconds between blocks can be polled less often.
    /// </summary>
    public TimeSpan EventPollInterval { get; set; } = EscrowEventWatcherOptions.DefaultPollInterval;

    /// <summary>
    /// In a cluster of hosts, how long the host that reads the escrow's events keeps that role without renewing it (it
    /// renews at every poll): how long the others wait before one takes over from a host that died.
    /// </summary>
    public TimeSpan WatchLeaseTerm { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan RpcAttemptTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public int RpcMaxRetries { get; set; } = 3;

    public TimeSpan ReceiptTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Blocks the chain watcher stays behind the head: an event counts (a lease funded, a settlement final) only this deep,
    /// so a reorganization shallower than it never reaches the grains. 0 on the devnet's Anvil, which mines on demand.
    /// </summary>
    public int Confirmations { get; set; }

    /// <summary>How many blocks behind it the chain watcher can roll back when a reorganization goes deeper than <see cref="Confirmations"/>.</summary>
    public int MaxReorgDepth { get; set; } = 64;

    public RpcResilienceOptions ToResilienceOptions() => new() { AttemptTimeout = RpcAttemptTimeout, MaxRetryAttempts = RpcMaxRetries };

    /// <summary>
    /// The most the operator's replacements of a stuck transaction offer per gas, in gwei; unset, no ceiling (the devnet's
    /// Anvil). On a chain whose gas costs money, set it: above it a stuck settlement waits for the base fee to fall.
    /// </summary>
    public long? MaxFeePerGasGwei { get; set; }

    public TransactionSenderOptions ToSenderOptions() => new()
    {
        ReceiptTimeout = ReceiptTimeout,
        MaxFeePerGasCeiling = MaxFeePerGasGwei is { } gwei ? new System.Numerics.BigInteger(gwei) * 1_000_000_000 : null,
    };

    public EscrowEventWatcherOptions ToWatcherOptions() => new()
    {
        PollInterval = EventPollInterval,
        StartBlock = DeployBlock,
        Confirmations = Confirmations,
        MaxReorgDepth = MaxReorgDepth,
    };

    /// <summary>Throws with every missing setting named, so a misconfigured host fails at startup, not at the first settlement.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (!Uri.TryCreate(RpcUrl, UriKind.Absolute, out _)) problems.Add($"{nameof(RpcUrl)} '{RpcUrl}' is not an absolute URL");
        if (ChainId <= 0) problems.Add($"{nameof(ChainId)} must be positive");
        if (!IsAddress(CreditAddress)) problems.Add($"{nameof(CreditAddress)} '{CreditAddress}' is not an address");
        if (!IsAddress(EscrowAddress)) problems.Add($"{nameof(EscrowAddress)} '{EscrowAddress}' is not an address");
        if (string.IsNullOrWhiteSpace(OperatorPrivateKey)) problems.Add($"{nameof(OperatorPrivateKey)} is not set");
        if (DeployBlock < 0) problems.Add($"{nameof(DeployBlock)} cannot be negative");
        if (WatchLeaseTerm <= EventPollInterval) problems.Add($"{nameof(WatchLeaseTerm)} must be longer than {nameof(EventPollInterval)}");
        if (MaxReorgDepth < 1) problems.Add($"{nameof(MaxReorgDepth)} must be at least 1");
        if (MaxFeePerGasGwei is < 1) problems.Add($"{nameof(MaxFeePerGasGwei)} must be at least 1 when set");
        if (problems.Count > 0) throw new InvalidOperationException("Chain options are invalid: " + string.Join("; ", problems) + ".");
    }

    private static bool IsAddress(string? value) => Nethereum.Util.AddressUtil.Current.IsValidEthereumAddressHexFormat(value);
}
