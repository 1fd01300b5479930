namespace OrleansCompute.Chain.Signing;

/// <summary>
/// A nonce the <see cref="TransactionSender"/> has spent and the chain has not yet mined: every version of its transaction
/// sent so far (the first and each replacement), and when it is next replaced. The sender keeps it until the nonce is
/// mined, whether or not anyone still waits for it, so that no later transaction of the key waits behind it for ever.
/// </summary>
internal sealed class PendingNonce(SubmittedTransaction first, long replaceAt)
{
    private readonly List<SubmittedTransaction> _versions = [first];

    public System.Numerics.BigInteger Nonce => first.Nonce;

    /// <summary>Stopwatch timestamp after which the latest version is replaced if the nonce is still not mined.</summary>
    public long ReplaceAt { get; set; } = replaceAt;

    /// <summary>The nonce went to another transaction (the chain had dropped this one and the sender read its nonce again).</summary>
    public bool Superseded { get; private set; }

    public SubmittedTransaction Latest
    {
        get { lock (_versions) return _versions[^1]; }
    }

    public IReadOnlyList<SubmittedTransaction> Versions
    {
        get { lock (_versions) return [.. _versions]; }
    }

    public void Add(SubmittedTransaction replacement)
    {
        lock (_versions) _versions.Add(replacement);
    }

    public void Supersede() => Superseded = true;
}
