namespace OrleansCompute.Abstractions.Catalog;

/// <summary>
/// The accelerators this market knows. Memory and board power are vendor specifications;
/// throughput and list prices are estimates (labelled in <see cref="AcceleratorProfile.Source"/>)
/// for comparing kinds against each other, not benchmarks.
/// </summary>
public static class AcceleratorCatalog
{
    private const string ReferenceModel = "Llama 3.1 8B class, batched serving";

    public static IReadOnlyList<AcceleratorProfile> All { get; } =
    [
        new("trainium2", "AWS", "Trainium2", 96, 2_400, ReferenceModel, 500, Credits.FromCredits(2.90m),
            "memory: AWS Trn2 spec (96 GiB HBM per chip); power, throughput: estimates; price: trn2.48xlarge on-demand / 16 chips, rounded"),
        new("inferentia2", "AWS", "Inferentia2", 32, 900, ReferenceModel, 175, Credits.FromCredits(1.08m),
            "memory: AWS Inf2 spec (32 GiB HBM per chip); power, throughput: estimates; price: inf2.48xlarge on-demand / 12 chips, rounded"),
        new("h100", "NVIDIA", "H100 SXM 80GB", 80, 3_000, ReferenceModel, 700, Credits.FromCredits(2.99m),
            "memory, power: NVIDIA H100 SXM datasheet (80 GB, 700 W TDP); throughput, price: estimates of the rental market"),
        new("h200", "NVIDIA", "H200 SXM 141GB", 141, 3_700, ReferenceModel, 700, Credits.FromCredits(3.79m),
            "memory, power: NVIDIA H200 SXM datasheet (141 GB, 700 W TDP); throughput, price: estimates of the rental market"),
        new("mi300x", "AMD", "Instinct MI300X", 192, 3_200, ReferenceModel, 750, Credits.FromCredits(2.49m),
            "memory, power: AMD MI300X datasheet (192 GB, 750 W TBP); throughput, price: estimates of the rental market"),
    ];

    private static readonly Dictionary<string, AcceleratorProfile> ByKind =
        All.ToDictionary(p => p.Kind, StringComparer.OrdinalIgnoreCase);

    public static bool TryGet(string? kind, out AcceleratorProfile profile)
    {
        profile = null!;
        return kind is not null && ByKind.TryGetValue(kind, out profile!);
    }

    /// <summary>The profile of <paramref name="kind"/>, or a <see cref="MarketException"/> naming the field <c>kind</c> and the kinds known.</summary>
    public static AcceleratorProfile Require(string? kind) =>
        TryGet(kind, out var profile)
            ? profile
            : throw MarketException.Invalid("kind", "UnknownKind", $"Unknown accelerator kind '{kind}'; known: {KnownKinds}.");

    public static string KnownKinds => string.Join(", ", All.Select(p => p.Kind));
}
