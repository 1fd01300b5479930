namespace OrleansCompute.Cli.Api;

/// <summary>The host refused a request: its problem document, ready to print.</summary>
public sealed class ApiException(int status, string title, string? detail, string? field, string? reason)
    : Exception(detail ?? title)
{
    public int Status { get; } = status;
    public string Title { get; } = title;
    public string? Detail { get; } = detail;
    public string? Field { get; } = field;
    public string? Reason { get; } = reason;

    /// <summary>What the host said, in one line: its title, the field at fault if any, and its detail.</summary>
    public string Summary => $"{Title}{(Field is null ? "" : $" (field: {Field})")}: {Detail ?? "the host refused the request"}";
}
