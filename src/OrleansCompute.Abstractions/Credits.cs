using System.Diagnostics.CodeAnalysis;
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

    /// <summary>The most credits an amount can hold: <see cref="long.MaxValue"/> units.</summary>
    public static readonly decimal MaxCredits = (decimal)long.MaxValue / UnitsPerCredit;

    /// <summary>The least (most negative) credits an amount can hold: <see cref="long.MinValue"/> units.</summary>
    public static readonly decimal MinCredits = (decimal)long.MinValue / UnitsPerCredit;

    public static bool TryParse(string? text, out Credits credits) => TryParse(text, out credits, out _);

    /// <summary>
    /// Parses a decimal amount ("2.4", "-1.000000"); <paramref name="error"/> says why not when it is not one, has more
    /// than <see cref="Decimals"/> decimals or is beyond what <see cref="Units"/> can hold.
    /// </summary>
    public static bool TryParse(string? text, out Credits credits, [NotNullWhen(false)] out string? error)
    {
        credits = default;
        if (!decimal.TryParse(text, NumberStyles.Number, CultureInfo.InvariantCulture, out var value))
        {
            // decimal itself overflows beyond about 7.9e28; that is a number, just far too large.
            error = LooksNumeric(text) ? OutOfRange(text) : $"'{Shorten(text)}' is not an amount of credits (a decimal number such as 2.400000).";
            return false;
        }
        return TryFromCredits(value, out credits, out error, text);
    }

    /// <summary>Like <see cref="FromCredits"/>, but says why an amount cannot be credits instead of throwing.</summary>
    public static bool TryFromCredits(decimal value, out Credits credits, [NotNullWhen(false)] out string? error) =>
        TryFromCredits(value, out credits, out error, null);

    private static bool TryFromCredits(decimal value, out Credits credits, [NotNullWhen(false)] out string? error, string? text)
    {
        credits = default;
        // Range first: value * UnitsPerCredit overflows decimal for the largest values.
        if (value > MaxCredits || value < MinCredits)
        {
            error = OutOfRange(text ?? value.ToString(CultureInfo.InvariantCulture));
            return false;
        }
        if (decimal.Round(value, Decimals) != value)
        {
            error = $"'{Shorten(text ?? value.ToString(CultureInfo.InvariantCulture))}' has more than {Decimals} decimals; credits have {Decimals}.";
            return false;
        }
        credits = new Credits((long)(value * UnitsPerCredit));
        error = null;
        return true;
    }

    internal static string OutOfRange(string? text) =>
        $"'{Shorten(text)}' is out of range: an amount of credits is from {MinCredits.ToString(CultureInfo.InvariantCulture)} to {MaxCredits.ToString(CultureInfo.InvariantCulture)}.";

    private static bool LooksNumeric(string? text) =>
        text?.Trim().TrimStart('-', '+') is { } digits && digits.Any(char.IsAsciiDigit)
        && digits.All(c => char.IsAsciiDigit(c) || c is '.' or ',');

    // Problem documents quote the text back; a megabyte of digits need not be.
    private static string Shorten(string? text) => text is null ? "" : text.Length <= 40 ? text : text[..37] + "...";

    /// <summary>Credits with all six decimals, e.g. <c>2.400000</c>.</summary>
    public override string ToString() => ToDecimal().ToString("0.000000", CultureInfo.InvariantCulture);
}

/// <summary>Credits travel in JSON as exact decimal strings ("2.400000"), never as floating point.</summary>
public sealed class CreditsJsonConverter : JsonConverter<Credits>
{
    public override Credits Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? error;
        if (reader.TokenType == JsonTokenType.String)
        {
            if (Credits.TryParse(reader.GetString(), out var credits, out error)) return credits;
        }
        else if (reader.TokenType == JsonTokenType.Number)
        {
            // A number beyond decimal's range (1e300) is still a number: out of range, not malformed.
            if (!reader.TryGetDecimal(out var value)) error = Credits.OutOfRange(RawNumber(ref reader));
            else if (Credits.TryFromCredits(value, out var credits, out error)) return credits;
        }
        else
        {
            error = $"An amount of credits is a decimal string such as \"2.400000\", not {reader.TokenType}.";
        }
        throw new JsonException(error);
    }

    private static string RawNumber(ref Utf8JsonReader reader) =>
        System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan);

    public override void Write(Utf8JsonWriter writer, Credits value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
