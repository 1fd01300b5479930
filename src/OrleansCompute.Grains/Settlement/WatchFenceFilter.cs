using OrleansCompute.Abstractions.Settlement;

namespace OrleansCompute.Grains.Settlement;

/// <summary>
/// Refuses a chain event delivered under a <see cref="WatchFence"/> whose host no longer holds the escrow's watch in that
/// term. The check runs in the receiving grain's turn, before the call: a grain does not interleave the calls that change
/// it, so a delivery that passes is applied before any the next holder makes to that grain, and one arriving after the
/// next holder's is refused. Handlers are idempotent but rollbacks are not across holders: a removed payment or funding
/// delivered again (the same transaction in the replacing block) and then taken back out by the old holder would be lost.
/// </summary>
public sealed class WatchFenceFilter(IGrainFactory grains) : IIncomingGrainCallFilter
{
    // Every grain call passes here: those that carry no fence go straight on, without an async frame of their own.
    public Task Invoke(IIncomingGrainCallContext context) =>
        WatchFence.Take() is { } fence ? InvokeFencedAsync(context, fence) : context.Invoke();

    private async Task InvokeFencedAsync(IIncomingGrainCallContext context, WatchFence fence)
    {
        var watch = await grains.GetGrain<IChainCursorGrain>(fence.Escrow).GetWatchAsync();
        if (watch is null || watch.Term != fence.Term || watch.Watcher != fence.Watcher)
        {
            throw new InvalidOperationException(
                $"{fence.Watcher} delivered a chain event in watch term {fence.Term} of escrow {fence.Escrow}, which has passed " +
                $"({(watch is null ? "nobody holds the watch now" : $"{watch.Watcher} holds it in term {watch.Term}")}); {context.InterfaceMethod?.Name} refused.");
        }
        await context.Invoke();
    }
}
