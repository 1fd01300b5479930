using System.Text.Json.Serialization;

namespace OrleansCompute.Cli;

/// <summary>
/// Leases of one command (<c>lease end A B …</c>) that did not come through: printed as one message, a line per lease;
/// with --json each lease keeps its own status, reason and field, so a script can tell a refusal from a slow chain.
/// </summary>
public sealed class LeaseProblemsException(IReadOnlyList<LeaseProblem> problems)
    : Exception(string.Join(Environment.NewLine, problems.Select(p => p.Error)))
{
    public IReadOnlyList<LeaseProblem> Problems { get; } = problems;
}

/// <summary>Why one lease of several did not end: the host's status, reason and field when the host refused it.</summary>
public sealed record LeaseProblem(
    string Id,
    string Error,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Status = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Field = null);
