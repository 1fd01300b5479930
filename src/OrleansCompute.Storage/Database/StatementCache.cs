// One connection and the commands prepared on it. Microsoft.Data.Sqlite keeps a command's compiled statement
// for as long as its text and connection stay the same, so reusing the command skips SQLite's parser.
using Microsoft.Data.Sqlite;

namespace OrleansCompute.Storage.Database;

internal sealed class StatementCache(SqliteConnection connection) : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    public SqliteConnection Connection { get; } = connection;

    /// <summary>The command for <paramref name="sql"/>, prepared on first use; bind its parameters with <see cref="SqliteCommandExtensions.Bind"/>.</summary>
    public SqliteCommand Command(string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = Connection.CreateCommand();
            command.CommandText = sql;
            command.Prepare();
            _commands.Add(sql, command);
        }
        return command;
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values) command.Dispose();
        _commands.Clear();
        Connection.Dispose();
    }
}

internal static class SqliteCommandExtensions
{
    /// <summary>Sets a named parameter, adding it the first time this command is bound.</summary>
    public static SqliteCommand Bind(this SqliteCommand command, string name, object? value)
    {
        var parameters = command.Parameters;
        var index = parameters.IndexOf(name);
        if (index >= 0) parameters[index].Value = value ?? DBNull.Value;
        else parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }
}
