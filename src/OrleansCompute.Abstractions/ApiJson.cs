using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCompute.Abstractions;

/// <summary>The JSON shape of the HTTP API, shared by the host and its clients: camelCase, enums as names.</summary>
public static class ApiJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    public static void Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.PropertyNameCaseInsensitive = true;
        // The web defaults read "slots": "1" as a number; a number is sent as a number. (Credits are strings by their own converter.)
        options.NumberHandling = JsonNumberHandling.Strict;
        // Names only: a number would bind even when the enum defines no such value ("billBy": 7 stored as 7).
        options.Converters.Add(new JsonStringEnumConverter(namingPolicy: null, allowIntegerValues: false));
        // Lease ids as occ prints them (32 digits) bind as well as with their dashes, as they do in routes.
        options.Converters.Add(new AnyFormGuidConverter());
        // Read by programs and terminals, never embedded in HTML: a time's "+00:00" stays "+", not "\u002B".
        options.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
    }

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Configure(options);
        return options;
    }
}

/// <summary>
/// Reads a GUID in any of its usual forms (<c>0197c0de00007000…</c>, <c>0197c0de-0000-7000-…</c>, braced); writes it with
/// its dashes, as System.Text.Json always has.
/// </summary>
public sealed class AnyFormGuidConverter : JsonConverter<Guid>
{
    public override Guid Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String && Guid.TryParse(reader.GetString(), out var id)
            ? id
            // No message of its own: the serializer's names the path and the type, which the host's bad-request answer reads.
            : throw new JsonException();

    public override void Write(Utf8JsonWriter writer, Guid value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    public override Guid ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        Guid.TryParse(reader.GetString(), out var id) ? id : throw new JsonException();

    public override void WriteAsPropertyName(Utf8JsonWriter writer, Guid value, JsonSerializerOptions options) =>
        writer.WritePropertyName(value.ToString());
}
