namespace OrleansCompute.Abstractions.Settlement;

/// <summary>
/// The watch a chain event is delivered under: the escrow's cursor grain, the host and its watch term. The chain watcher's
/// sink puts it in the request context of each call that folds an event into a grain (or takes one back out), and the
/// silo's watch-fence filter refuses the call unless that host still holds the watch in that term when the grain takes it.
/// A host that stalled past its term (a long pause, a slow call) would otherwise deliver after the next holder, and a
/// rollback it delivers then would take back out what the new holder folded in again.
/// </summary>
[GenerateSerializer, Immutable, Alias("occ.watch-fence")]
public sealed record WatchFence(
    [property: Id(0)] string Escrow,
    [property: Id(1)] string Watcher,
    [property: Id(2)] long Term)
{
    private const string ContextKey = "occ.watch-fence";

    /// <summary>Puts the fence on the calls made from here until disposed.</summary>
    public IDisposable Enter()
    {
        RequestContext.Set(ContextKey, this);
        return new Exit();
    }

    /// <summary>The fence of the call being received, taken off the context so the grain's own calls do not carry it on.</summary>
    public static WatchFence? Take()
    {
        if (RequestContext.Get(ContextKey) is not WatchFence fence) return null;
        RequestContext.Remove(ContextKey);
        return fence;
    }

    private sealed class Exit : IDisposable
    {
        public void Dispose() => RequestContext.Remove(ContextKey);
    }
}
