using System.Text;

namespace OrleansCompute.Integration.Tests.Infrastructure;

/// <summary>
/// A text writer a test may read while a running command still writes to it (a <see cref="StringWriter"/> may not be read
/// during a write). Every other overload of <see cref="TextWriter"/> ends in these three.
/// </summary>
public sealed class SharedTextWriter : TextWriter
{
    private readonly StringBuilder _text = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_text) _text.Append(value);
    }

    public override void Write(string? value)
    {
        lock (_text) _text.Append(value);
    }

    public override void Write(char[] buffer, int index, int count)
    {
        lock (_text) _text.Append(buffer, index, count);
    }

    public override string ToString()
    {
        lock (_text) return _text.ToString();
    }
}
