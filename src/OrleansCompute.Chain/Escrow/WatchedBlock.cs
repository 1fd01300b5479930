using System.Text.Json;

namespace OrleansCompute.Chain.Escrow;

/// <summary>
/// A recent block the <see cref="EscrowEventWatcher"/> has read, by its hash, with the events it delivered from it:
/// what it must take back if a reorganization replaces the block.
/// </summary>
public sealed record WatchedBlock(long Number, string Hash, IReadOnlyList<EscrowEvent> Events)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The blocks as JSON, the form a store that knows nothing of the chain keeps them in.</summary>
    public static string ToJson(IReadOnlyList<WatchedBlock> blocks) => JsonSerializer.Serialize(blocks, Json);

    public static IReadOnlyList<WatchedBlock> FromJson(string json) => JsonSerializer.Deserialize<List<WatchedBlock>>(json, Json) ?? [];
}
