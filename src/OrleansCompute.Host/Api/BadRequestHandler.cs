using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.WebUtilities;
using OrleansCompute.Abstractions;
using OrleansCompute.Host.Gateway;

namespace OrleansCompute.Host.Api;

/// <summary>
/// A request minimal APIs could not bind (a body that is not JSON, a value of the wrong type or beyond its range, no
/// body at all) becomes a problem document naming the field and the reason, like a grain's refusals: nothing was asked
/// of any grain, so nothing changed. It needs <see cref="RouteHandlerOptions.ThrowOnBadRequest"/>; without it minimal
/// APIs log the failure and answer a bare 400.
/// </summary>
public sealed partial class BadRequestHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad) return false;

        var bodyType = context.Features.Get<IExceptionHandlerFeature>()?.Endpoint?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType;
        var (field, reason, detail) = bad.InnerException is JsonException json
            ? DescribeJson(json, bodyType, await MissingFieldsInBodyAsync(context, json, bodyType))
            : Describe(bad);
        if (context.Request.Path.StartsWithSegments("/v1"))
        {
            // OpenAI clients read their own error shape.
            await new OpenAiError(bad.StatusCode, detail, "invalid_request_error", "invalid_request", field).ToResult().ExecuteAsync(context);
            return true;
        }
        return await problems.WriteAsync(context, exception, bad.StatusCode, reason, detail, field);
    }

    /// <summary>
    /// For the problem documents no handler of ours wrote (routing's 404, 405 and 415, status code pages): a reason all
    /// the same, the status's name, and for a body in a media type the API does not read, the field at fault.
    /// </summary>
    public static void NameReason(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (problem.Extensions.ContainsKey("reason") || problem.Status is not { } status) return;
        var name = ReasonPhrases.GetReasonPhrase(status).Replace(" ", "", StringComparison.Ordinal);
        if (name.Length == 0) return;
        problem.Extensions["reason"] = name;
        if (status == StatusCodes.Status415UnsupportedMediaType)
        {
            problem.Extensions["field"] = "body";
            problem.Detail ??= $"The body is {context.HttpContext.Request.ContentType ?? "of no media type"}; send it as application/json.";
        }
    }

    /// <summary>
    /// The body was read but is not JSON, leaves out a field it must have, or holds a value its field cannot take. Left-out
    /// fields are <paramref name="missingInBody"/> when the body could be read again, else those the serializer names.
    /// </summary>
    private static (string Field, string Reason, string Detail) DescribeJson(JsonException json, Type? bodyType, IReadOnlyList<string>? missingInBody)
    {
        var field = FieldOf(json.Path);
        if (MissingFields().Match(json.Message) is { Success: true } missing)
        {
            var names = (missingInBody is { Count: > 0 } ? missingInBody : missing.Groups["name"].Captures.Select(c => c.Value))
                .Select(name => field == "body" ? name : $"{field}.{name}").ToList();
            return (names[0], "Required", $"{string.Join(", ", names.Select(n => $"'{n}'"))} {(names.Count == 1 ? "is" : "are")} required.");
        }
        // The reader's own exception: the text is not JSON (truncated, a stray character), whatever the fields.
        if (json.InnerException is JsonException syntax)
            return (field, "MalformedJson", $"The body is not valid JSON: {syntax.Message}");

        // A converter of ours (credits, say) says exactly what is wrong; the serializer's own messages name a .NET type and the path.
        if (json.InnerException is null && !json.Message.Contains(" Path: $", StringComparison.Ordinal))
            return (field, "InvalidValue", $"'{field}': {json.Message}");
        var expected = Expected(TypeAt(bodyType, json.Path));
        return (field, "InvalidValue", expected is null
            ? $"'{field}' holds a value it cannot take{(json.InnerException is { } inner ? $": {inner.Message}" : ".")}"
            : $"'{field}' must be {expected}.");
    }

    /// <summary>
    /// Every required field the object at the error's path leaves out. The serializer names only the first few (its message
    /// stops at about 60 characters), which had a client fix its body in rounds; a body kept for reading again (signed
    /// requests keep theirs, to check the signature) says them all. Null when the body cannot be read again.
    /// </summary>
    private static async Task<IReadOnlyList<string>?> MissingFieldsInBodyAsync(HttpContext context, JsonException json, Type? bodyType)
    {
        if (!MissingFields().IsMatch(json.Message) || TypeAt(bodyType, json.Path) is not { } type || !context.Request.Body.CanSeek) return null;
        try
        {
            context.Request.Body.Position = 0;
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            var node = body.RootElement;
            foreach (Match step in PathStep().Matches(json.Path ?? ""))
            {
                node = step.Groups["index"].Success
                    ? node.ValueKind == JsonValueKind.Array ? node[int.Parse(step.Groups["index"].Value, CultureInfo.InvariantCulture)] : default
                    : node.ValueKind == JsonValueKind.Object && FindProperty(node, step.Groups["name"].Value) is { } child ? child : default;
            }
            if (node.ValueKind != JsonValueKind.Object) return null;
            var present = node.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
            // The constructor the serializer binds a record through: its parameters without a default are the required fields.
            var constructor = type.GetConstructors().MaxBy(c => c.GetParameters().Length);
            return constructor?.GetParameters()
                .Where(p => !p.HasDefaultValue && p.Name is not null && !present.Contains(p.Name))
                .Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name!)).ToList();
        }
        catch (Exception e) when (e is JsonException or IOException or IndexOutOfRangeException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The API reads names case-insensitively.</summary>
    private static JsonElement? FindProperty(JsonElement node, string name) =>
        node.EnumerateObject().Where(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)).Select(p => (JsonElement?)p.Value).FirstOrDefault();

    /// <summary>A failure with no JSON in it: no body, the wrong media type, or a route or query value that did not bind.</summary>
    private static (string Field, string Reason, string Detail) Describe(BadHttpRequestException bad)
    {
        var parameter = Parameter().Match(bad.Message) is { Success: true } match ? match.Groups["name"].Value : null;
        return bad.StatusCode switch
        {
            StatusCodes.Status415UnsupportedMediaType => ("body", "UnsupportedMediaType", $"{bad.Message} Send the body as application/json."),
            StatusCodes.Status413PayloadTooLarge => ("body", "BodyTooLarge", bad.Message),
            _ when NoBody().IsMatch(bad.Message) => ("body", "MissingBody", "This request needs a JSON body."),
            _ => (parameter ?? "request", "InvalidValue", bad.Message),
        };
    }

    /// <summary>"$.lease.slots" → "lease.slots"; the body itself (a "$" path) is "body".</summary>
    private static string FieldOf(string? path) =>
        path is null || path == "$" ? "body" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    /// <summary>The .NET type the JSON path leads to in the body's type, when it can be followed.</summary>
    private static Type? TypeAt(Type? type, string? path)
    {
        if (type is null || path is null) return null;
        foreach (Match step in PathStep().Matches(path))
        {
            type = Nullable.GetUnderlyingType(type) ?? type;
            type = step.Groups["index"].Success
                ? type.IsArray ? type.GetElementType() : type.GetInterfaces().Append(type)
                    .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0]
                // camelCase changes only the first letter, and the API reads names case-insensitively.
                : type.GetProperty(step.Groups["name"].Value, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase)?.PropertyType;
            if (type is null) return null;
        }
        return Nullable.GetUnderlyingType(type) ?? type;
    }

    private static string? Expected(Type? type) => type switch
    {
        null => null,
        { IsEnum: true } => $"one of {string.Join(", ", Enum.GetNames(type))}",
        _ when type == typeof(int) => Whole(int.MaxValue),
        _ when type == typeof(uint) => Whole(uint.MaxValue),
        _ when type == typeof(long) => Whole(long.MaxValue),
        _ when type == typeof(ulong) => Whole(ulong.MaxValue),
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(string) => "a string",
        _ when type == typeof(Guid) => "a GUID: 32 hex digits, with or without its dashes",
        _ when type == typeof(DateTimeOffset) || type == typeof(DateTime) => "a date and time such as \"2030-01-01T09:00:00Z\"",
        _ when type == typeof(Credits) => "an amount of credits such as \"2.400000\"",
        _ when type.IsAssignableTo(typeof(System.Collections.IEnumerable)) => "a list",
        _ => "an object",
    };

    // The bound is the type's, not the field's (which the market checks next): said as the CLI says it, not as a .NET range.
    private static string Whole<T>(T max) where T : IFormattable =>
        $"a whole number up to {max.ToString("N0", CultureInfo.InvariantCulture)}";

    // One step of a System.Text.Json path: .name, ['name'] or [index].
    [GeneratedRegex(@"\.(?<name>[^.\[]+)|\['(?<name>(?:[^']|'')*)'\]|\[(?<index>\d+)\]")]
    private static partial Regex PathStep();

    // System.Text.Json's message for required constructor parameters left out: … missing required properties including: 'hours', 'slots'.
    [GeneratedRegex("missing required properties including: (?:'(?<name>[^']+)'(?:, )?)+")]
    private static partial Regex MissingFields();

    // Minimal APIs name the parameter in their messages: Failed to bind parameter "int sample" from "x".
    [GeneratedRegex("parameter \"(?:[^\"]* )?(?<name>[^\" ]+)\"")]
    private static partial Regex Parameter();

    // Required parameter "LeaseRequest request" was not provided from body. / Implicit body inferred for parameter "x" but no body was provided.
    [GeneratedRegex("not provided from body|no body was provided")]
    private static partial Regex NoBody();
}
