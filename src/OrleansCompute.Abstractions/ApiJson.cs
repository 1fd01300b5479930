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
