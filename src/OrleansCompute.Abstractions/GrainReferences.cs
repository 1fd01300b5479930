using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace OrleansCompute.Abstractions;

/// <summary>
/// References to the market's long-lived string-keyed grains (markets, pools), made once per silo (or client). GetGrain resolves
/// the interface's grain type by parsing type names on every call, which the bench found in a tenth of a lease's
/// allocations; a reference is immutable and bound to its silo's runtime, so each silo (each grain factory) keeps its own.
/// </summary>
public static class GrainReferences
{
    private static readonly ConditionalWeakTable<IGrainFactory, ConcurrentDictionary<(Type, string), IAddressable>> BySilo = new();

    public static TGrain Get<TGrain>(IGrainFactory grains, string key) where TGrain : IGrainWithStringKey =>
        (TGrain)BySilo.GetOrCreateValue(grains).GetOrAdd((typeof(TGrain), key),
            static (id, factory) => factory.GetGrain<TGrain>(id.Item2), grains);
}
