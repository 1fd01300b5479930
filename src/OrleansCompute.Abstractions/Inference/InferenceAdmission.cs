namespace OrleansCompute.Abstractions.Inference;

/// <summary>Whether the gateway may run one more request on a lease's slots, and why not.</summary>
public enum AdmissionOutcome
{
    /// <summary>Admitted: the lease counts the request as in flight until its usage is recorded.</summary>
    Admitted,
    /// <summary>The key is not this lease's, or the lease is not active (never was, or ended: its key is revoked).</summary>
    Unauthorized,
    /// <summary>Every slot of the lease is at its concurrency limit; retry after <see cref="InferenceAdmission.RetryAfter"/>.</summary>
    Busy,
    /// <summary>
    /// A lease that must be paid before it goes on: its unpaid bill (tokens, or time so far) reached the tenant's voucher
    /// threshold (<see cref="InferenceAdmission.AmountToSign"/> says what to sign, on the channel <see cref="InferenceAdmission.ChannelToSign"/>),
    /// or a token-billed lease's bill nearly used up the escrow (top up).
    /// </summary>
    PaymentRequired,
}

/// <summary>
/// The lease's answer to one inference request: the outcome, and for an admitted request the accelerator it runs on
/// (its catalog profile sets the simulated speed) and how many requests the lease may run at once.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.inference-admission")]
public sealed record InferenceAdmission(
    [property: Id(0)] AdmissionOutcome Outcome,
    [property: Id(1)] string? Kind = null,
    [property: Id(2)] string? PoolKey = null,
    [property: Id(3)] int Concurrency = 0,
    [property: Id(4)] TimeSpan RetryAfter = default,
    [property: Id(5)] string? Message = null,
    [property: Id(6)] Credits? AmountToSign = null,
    [property: Id(7)] uint? ChannelToSign = null);
