using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Catalog;

namespace OrleansCompute.Host.Api;

/// <summary>Request checks that happen before any grain is asked, reported like a grain's own rejections.</summary>
internal static class Problems
{
    public static Guid ParseLeaseId(string id) =>
        Guid.TryParse(id, out var leaseId)
            ? leaseId
            : throw MarketException.Invalid("id", "MalformedLeaseId", $"'{id}' is not a lease id (32 hex digits).");

    public static AcceleratorProfile Kind(string? kind) =>
        AcceleratorCatalog.TryGet(kind, out var profile)
            ? profile
            : throw MarketException.Invalid("kind", "UnknownKind", $"Unknown accelerator kind '{kind}'; known: {AcceleratorCatalog.KnownKinds}.");
}
