using System.Text;

namespace OrleansCompute.Host.Gateway;

/// <summary>
/// Ends generated text at the first of a request's stop sequences, as OpenAI does: the sequence itself is not returned.
/// A stream cannot take back what it sent, so text that may be the start of a stop sequence is held until the next piece
/// shows whether it is.
/// </summary>
public sealed class StopSequenceCutter(IReadOnlyList<string> stops)
{
    private readonly StringBuilder _held = new();

    /// <summary>A stop sequence was generated: the answer ends here and its finish reason is "stop".</summary>
    public bool Stopped { get; private set; }

    /// <summary>What of the text generated so far, with <paramref name="piece"/>, may be sent now (possibly nothing).</summary>
    public string Take(string piece)
    {
        if (Stopped) return "";
        if (stops.Count == 0) return piece;
        var text = _held.Append(piece).ToString();
        _held.Clear();
        var cut = FirstStopAt(text);
        if (cut >= 0)
        {
            Stopped = true;
            return text[..cut];
        }
        var held = HeldBack(text);
        _held.Append(text, text.Length - held, held);
        return text[..^held];
    }

    /// <summary>What is still held when generation ends without a stop sequence: it was not the start of one.</summary>
    public string Rest()
    {
        var rest = _held.ToString();
        _held.Clear();
        return Stopped ? "" : rest;
    }

    private int FirstStopAt(string text)
    {
        var first = -1;
        foreach (var stop in stops)
        {
            var at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        return first;
    }

    /// <summary>The length of the longest end of <paramref name="text"/> that a stop sequence starts with.</summary>
    private int HeldBack(string text)
    {
        var longest = 0;
        foreach (var stop in stops)
        {
            for (var length = Math.Min(stop.Length - 1, text.Length); length > longest; length--)
            {
                if (text.AsSpan(text.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    longest = length;
                    break;
                }
            }
        }
        return longest;
    }
}
