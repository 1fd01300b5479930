// What a scenario hands back: named figures in order, and Markdown sections for the results table.
using System.Text.Json;

namespace OrleansCompute.Bench;

public sealed class Figures
{
    private readonly List<KeyValuePair<string, double>> _values = [];

    public List<string> Markdown { get; } = [];

    public IReadOnlyList<KeyValuePair<string, double>> Values => _values;

    public double? this[string name] => _values.FirstOrDefault(v => v.Key == name) is { Key: not null } found ? found.Value : null;

    public void Add(string name, double value)
    {
        _values.RemoveAll(v => v.Key == name);
        _values.Add(new(name, value));
    }

    public void AddAll(Figures other)
    {
        foreach (var (name, value) in other._values) Add(name, value);
        Markdown.AddRange(other.Markdown);
    }

    public void Save(string path)
    {
        File.WriteAllText(path, JsonSerializer.Serialize(new Saved(_values.ToDictionary(v => v.Key, v => v.Value), Markdown)));
    }

    public static Figures Load(string path)
    {
        var saved = JsonSerializer.Deserialize<Saved>(File.ReadAllText(path))!;
        var figures = new Figures();
        foreach (var (name, value) in saved.Values) figures.Add(name, value);
        figures.Markdown.AddRange(saved.Markdown);
        return figures;
    }

    private sealed record Saved(Dictionary<string, double> Values, List<string> Markdown);
}

public static class Progress
{
    public static void Say(string line) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");
}
