namespace OrleansCompute.Abstractions;

/// <summary>
/// Ids that name the grain holding them, <c>{guid}@{scope}</c>: a quote id names its pool, an order id its order book,
/// so either can be found from the id alone.
/// </summary>
public static class ScopedIds
{
    public static string Format(Guid id, string scope) => $"{id:N}@{scope}";

    public static bool TryParse(string? scopedId, out Guid id, out string scope)
    {
        (id, scope) = (Guid.Empty, "");
        var at = scopedId?.IndexOf('@') ?? -1;
        if (at <= 0 || !Guid.TryParse(scopedId![..at], out id)) return false;
        scope = scopedId[(at + 1)..];
        return scope.Length > 0;
    }
}
