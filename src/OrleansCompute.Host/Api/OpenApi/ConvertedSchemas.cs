using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using OrleansCompute.Abstractions;

namespace OrleansCompute.Host.Api.OpenApi;

/// <summary>
/// Schemas for the types the API writes through converters of its own, which the document generator cannot see into
/// (it would describe them as any value): ids are GUID strings, amounts of credits exact decimal strings.
/// </summary>
public sealed class ConvertedSchemas : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        var type = context.JsonTypeInfo.Type;
        var nullable = Nullable.GetUnderlyingType(type) is not null;
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(Guid))
        {
            schema.Type = String(nullable);
            schema.Format = "uuid";
            schema.Description ??= "A GUID; read with or without its dashes, written with them.";
        }
        else if (type == typeof(Credits))
        {
            schema.Type = String(nullable);
            schema.Pattern = @"^\d+(\.\d{1,6})?$";
            schema.Description ??= "An amount of credits as an exact decimal string, six decimals (a JSON number is read too).";
            schema.Examples = [JsonValue.Create("2.400000")];
        }
        return Task.CompletedTask;
    }

    private static JsonSchemaType String(bool nullable) => nullable ? JsonSchemaType.String | JsonSchemaType.Null : JsonSchemaType.String;
}
