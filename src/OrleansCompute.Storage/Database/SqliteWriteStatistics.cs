namespace OrleansCompute.Storage.Database;

/// <summary>Diagnostics: <see cref="Writes"/> over <see cref="Transactions"/> is the mean group-commit batch size.</summary>
public readonly record struct SqliteWriteStatistics(long Transactions, long Writes);
