namespace OrleansCompute.Cli;

/// <summary>A user-facing error: printed to stderr, exit code 1.</summary>
public sealed class CliException(string message) : Exception(message);
