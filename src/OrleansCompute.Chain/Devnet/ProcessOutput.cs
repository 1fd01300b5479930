using System.Diagnostics;

namespace OrleansCompute.Chain.Devnet;

/// <summary>
/// Drains a child process's stdout and stderr (a full pipe would block the child) and keeps the last lines
/// for error messages.
/// </summary>
internal sealed class ProcessOutput(int capacity = 200)
{
    private readonly Queue<string> _lines = new();

    public void Attach(Process process)
    {
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
    }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines) return _lines.ToArray();
        }
    }

    public string Tail(int count = 40) => string.Join('\n', Lines.TakeLast(count));

    private void Add(string? line)
    {
        if (line is null) return;
        lock (_lines)
        {
            _lines.Enqueue(line);
            while (_lines.Count > capacity) _lines.Dequeue();
        }
    }
}
