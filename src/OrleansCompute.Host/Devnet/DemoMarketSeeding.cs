namespace OrleansCompute.Host.Devnet;

/// <summary>
/// Whether this host still has demo pools to seed: until it has, <c>/healthz</c> answers 503, so that whoever waits
/// for the host (<c>occ devnet up</c>, tests) never sees a market with half its pools.
/// </summary>
public sealed class DemoMarketSeeding(bool seeds)
{
    private volatile bool _done = !seeds;

    public bool Pending => !_done;

    public void MarkDone() => _done = true;
}
