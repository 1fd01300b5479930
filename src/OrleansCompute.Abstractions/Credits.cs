using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCompute.Abstractions;

/// <summary>
/// An amount of compute credit (the ERC-20 <c>OCC</c>, 6 decimals) in its smallest unit.
/// One type for money everywhere so that grain state, HTTP and chain agree to the unit.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.credits")]
[JsonConverter(typeof(CreditsJsonConverter))]
public readonly record struct Credits([property: Id(0)] long Units) : IComparable<Credits>
{
    public const int Decimals = 6;
    public const long UnitsPerCredit = 1_000_000;

    public static Credits Zero => default;

    public static Credits FromUnits(long units) => new(units);

    public static Credits FromCredits(decimal credits) =>
        new(checked((long)decimal.Round(credits * UnitsPerCredit, MidpointRounding.AwayFromZero)));

    public decimal ToDecimal() => (decimal)Units / UnitsPerCredit;

    public static Credits operator +(Credits a, Credits b) => new(checked(a.Units + b.Units));
    public static Credits operator -(Credits a, Credits b) => new(checked(a.Units - b.Units));
    public static bool operator <(Credits a, Credits b) => a.Units < b.Units;
    public static bool operator >(Credits a, Credits b) => a.Units > b.Units;
    public static bool operator <=(Credits a, Credits b) => a.Units <= b.Units;
    public static bool operator >=(Credits a, Credits b) => a.Units >= b.Units;

    public int CompareTo(Credits other) => Units.CompareTo(other.Units);

    public static Credits Max(Credits a, Credits b) => a >= b ? a : b;

    public static bool TryParse(string? text, out Credits credits)
    {
        credits = default;
        if (!decimal.TryParse(text, NumberStyles.Number, CultureInfo.InvariantCulture, out var value)) return false;
        var units = value * UnitsPerCredit;
        if (units != decimal.Truncate(units) || units > long.MaxValue || units < long.MinValue) return false;
        credits = new Credits((long)units);
        return true;
    }

    /// <summary>Credits with all six decimals, e.g. <c>2.400000</c>.</summary>
    public override string ToString() => ToDecimal().ToString("0.000000", CultureInfo.InvariantCulture);
}

/// <summary>Credits travel in JSON as exact decimal strings ("2.400000"), never as floating point.</summary>
public sealed class CreditsJsonConverter : JsonConverter<Credits>
{
    public override Credits Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.TokenType switch
        {
            JsonTokenType.String => reader.GetString(),
            JsonTokenType.Number => reader.GetDecimal().ToString(CultureInfo.InvariantCulture),
            _ => null,
        };
        return Credits.TryParse(text, out var credits)
            ? credits
            : throw new JsonException($"'{text}' is not an amount of credits with at most {Credits.Decimals} decimals.");
    }

    public override void Write(Utf8JsonWriter writer, Credits value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
