// A grain that keeps a note in persistent state and ticks a reminder: what a silo restart must not lose.
using System.Collections.Concurrent;

namespace OrleansCompute.Storage.Tests.Infrastructure;

public interface IRestartProbeGrain : IGrainWithStringKey
{
    Task RememberAsync(string note, TimeSpan tickPeriod);

    Task<string?> NoteAsync();
}

[GenerateSerializer, Alias("storage-tests.probe-state")]
public sealed record ProbeState
{
    [Id(0)] public string? Note { get; init; }
}

public sealed class RestartProbeGrain(
    [PersistentState("probe", RestartProbeGrain.StorageName)] IPersistentState<ProbeState> state) : Grain, IRestartProbeGrain, IRemindable
{
    public const string StorageName = "store";
    public const string ReminderName = "tick";

    public async Task RememberAsync(string note, TimeSpan tickPeriod)
    {
        state.State = new ProbeState { Note = note };
        await state.WriteStateAsync();
        await this.RegisterOrUpdateReminder(ReminderName, tickPeriod, tickPeriod);
    }

    public Task<string?> NoteAsync() => Task.FromResult(state.State.Note);

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        ReminderTicks.Record(this.GetPrimaryKeyString());
        return Task.CompletedTask;
    }
}

/// <summary>Where the probe grains report their ticks to the test that waits for them.</summary>
public static class ReminderTicks
{
    private static readonly ConcurrentDictionary<string, TaskCompletionSource> Next = new();

    /// <summary>Completes at the first tick of <paramref name="grain"/> after this call.</summary>
    public static Task NextTick(string grain)
    {
        var tick = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Next[grain] = tick;
        return tick.Task;
    }

    public static void Record(string grain)
    {
        if (Next.TryGetValue(grain, out var tick)) tick.TrySetResult();
    }
}
