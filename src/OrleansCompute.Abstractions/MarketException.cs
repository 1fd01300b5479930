namespace OrleansCompute.Abstractions;

/// <summary>Why the market said no. The host maps each to an HTTP status.</summary>
public enum MarketError
{
    /// <summary>The request itself is wrong (400).</summary>
    InvalidRequest,
    /// <summary>No such lease, pool, slot or account (404).</summary>
    NotFound,
    /// <summary>The caller is not the tenant of this lease (403).</summary>
    NotYourLease,
    /// <summary>The request is valid but the market cannot take it now (409).</summary>
    Conflict,
    /// <summary>The tenant cannot pay the deposit the request would take (402).</summary>
    InsufficientFunds,
}

/// <summary>
/// A rejection by a grain: nothing was changed. <see cref="Field"/> names the request field at fault, if any,
/// and <see cref="Reason"/> is a stable code (e.g. <c>NoCapacity</c>, <c>UnknownKind</c>).
/// </summary>
[GenerateSerializer, Alias("occ.market-exception")]
public sealed class MarketException : Exception
{
    public MarketException(MarketError error, string reason, string message, string? field = null) : base(message)
    {
        Error = error;
        Reason = reason;
        Field = field;
    }

    [Id(0)] public MarketError Error { get; }
    [Id(1)] public string Reason { get; }
    [Id(2)] public string? Field { get; }

    public static MarketException Invalid(string field, string reason, string message) =>
        new(MarketError.InvalidRequest, reason, message, field);
}
