using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Market;

namespace OrleansCompute.Grains.Market;

/// <summary>
/// One accelerator, as its pool books it. The pool keeps and persists the slot's calendar (one authority per pool, so
/// a booking is one call and one write, not one per slot); the slot grain is where a slot is looked at by its own key.
/// </summary>
public sealed class SlotGrain : Grain, ISlotGrain
{
    private IPoolGrain? _pool;
    private int _index;

    public ValueTask<SlotSnapshot> GetAsync()
    {
        if (_pool is null)
        {
            var (poolKey, index) = MarketKeys.ParseSlot(this.GetPrimaryKeyString());
            _pool = GrainReferences.Get<IPoolGrain>(GrainFactory, poolKey);
            _index = index;
        }
        return _pool.GetSlotAsync(_index);
    }
}
