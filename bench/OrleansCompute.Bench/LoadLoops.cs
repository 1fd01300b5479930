// Runs N loops, one per tenant: a warm-up, then a measured window in which every completed request's latency is
// kept, then a stop. Exact percentiles from the sorted sample. Two kinds of load:
//   closed  each loop sends its next request as soon as the last one answers: the most the system can do (its
//           latency is then concurrency ÷ rate, Little's law, whatever the system);
//   paced   each loop sends on a fixed schedule, all together at a given rate: the latency a tenant sees at that rate.
//           A request is timed from when its schedule said to send it, so a stall that delays later sends counts
//           against every request it delayed (no coordinated omission).
using System.Diagnostics;

namespace OrleansCompute.Bench;

public sealed class LoopRecorder
{
    private readonly List<long> _latencies = new(8192);
    private readonly List<long> _sideLatencies = new(2048);
    private readonly LoadLoops.Window _window;
    /// <summary>Stopwatch ticks between this loop's sends when paced; 0 when closed.</summary>
    private readonly long _interval;
    private long _due;

    internal LoopRecorder(LoadLoops.Window window, long interval, long firstDue)
    {
        _window = window;
        _interval = interval;
        _due = firstDue;
    }

    public bool Stopping => _window.Stopping;
    public long Refused { get; private set; }
    public long Errors { get; private set; }
    internal List<long> Latencies => _latencies;
    internal List<long> SideLatencies => _sideLatencies;

    /// <summary>
    /// Takes the loop's next turn for a counted request. Closed: now. Paced: the next send time of the loop's schedule,
    /// waited for when it is still ahead. Latency is counted from the returned timestamp.
    /// </summary>
    public async ValueTask<long> TurnAsync()
    {
        if (_interval == 0) return await SideTurnAsync();
        var due = _due;
        _due += _interval;
        var ahead = due - Stopwatch.GetTimestamp();
        // Timers fire on whole milliseconds: round up, so a send is never early; being late counts in its latency.
        if (ahead > 0) await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(ahead * 1000.0 / Stopwatch.Frequency)));
        else await Task.Yield();
        return due;
    }

    /// <summary>
    /// Takes a turn now (a closed loop's every request; a paced loop's side requests): notes when the tenant wants to
    /// send, then queues at the back of the thread pool before it sends, a wait the latency includes, as a tenant would
    /// see it. Without the hop, a grain's response can resume its caller inline on the thread that delivered it, and
    /// one loop keeps that thread and starves the others.
    /// </summary>
    public async ValueTask<long> SideTurnAsync()
    {
        var wantedAt = Stopwatch.GetTimestamp();
        await Task.Yield();
        return wantedAt;
    }

    /// <summary>A request that the figure counts (a lease reserved, a ping answered), started at <paramref name="startedAt"/>.</summary>
    public void Completed(long startedAt)
    {
        if (_window.Measuring) _latencies.Add(Stopwatch.GetTimestamp() - startedAt);
    }

    /// <summary>A request the loop needs but the figure does not count (a cancel that makes room for the next lease).</summary>
    public void SideCompleted(long startedAt)
    {
        if (_window.Measuring) _sideLatencies.Add(Stopwatch.GetTimestamp() - startedAt);
    }

    public void Refusal()
    {
        if (_window.Measuring) Refused++;
    }

    public void Error()
    {
        if (_window.Measuring) Errors++;
    }
}

public sealed record Percentiles(long Count, double P50Ms, double P99Ms, double MaxMs)
{
    public static Percentiles Of(IEnumerable<List<long>> samples)
    {
        var all = samples.SelectMany(s => s).ToArray();
        if (all.Length == 0) return new Percentiles(0, 0, 0, 0);
        Array.Sort(all);
        double At(double q) => Ms(all[Math.Max(0, (int)Math.Ceiling(q * all.Length) - 1)]);
        return new Percentiles(all.Length, At(0.50), At(0.99), Ms(all[^1]));
    }

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

/// <summary>One measured window: what was done, how long it took, and what the process spent on it.</summary>
public sealed record RunResult(
    double Seconds,
    Percentiles Main,
    Percentiles Side,
    int IdleLoops,
    long Refused,
    long Errors,
    double CpuSeconds,
    long AllocatedBytes,
    int Gen2Collections,
    double GcPauseMs)
{
    public double PerSecond => Main.Count / Seconds;
    public double CpuMicrosecondsPerRequest => Main.Count == 0 ? 0 : CpuSeconds * 1e6 / Main.Count;
    public double AllocatedBytesPerRequest => Main.Count == 0 ? 0 : (double)AllocatedBytes / Main.Count;
}

public static class LoadLoops
{
    public sealed class Window
    {
        private volatile int _phase;
        public bool Measuring => _phase == 1;
        public bool Stopping => _phase == 2;
        internal void Begin() => _phase = 1;
        internal void End() => _phase = 2;
    }

    /// <summary>Closed loops: each sends again as soon as it has its answer.</summary>
    public static Task<RunResult> RunAsync(int loops, TimeSpan warmup, TimeSpan duration, Func<int, LoopRecorder, Task> loop) =>
        RunAsync(loops, warmup, duration, loop, ratePerSecond: 0);

    /// <summary>
    /// Paced loops: together they send <paramref name="ratePerSecond"/> requests a second, each loop every
    /// loops ÷ rate seconds, their schedules staggered evenly so that sends arrive at a steady rate.
    /// </summary>
    public static async Task<RunResult> RunAsync(int loops, TimeSpan warmup, TimeSpan duration, Func<int, LoopRecorder, Task> loop, double ratePerSecond)
    {
        var window = new Window();
        var interval = ratePerSecond > 0 ? (long)(Stopwatch.Frequency * loops / ratePerSecond) : 0;
        var start = Stopwatch.GetTimestamp();
        var recorders = Enumerable.Range(0, loops).Select(i => new LoopRecorder(window, interval, start + interval * i / loops)).ToArray();
        var running = recorders.Select((recorder, index) => Task.Run(() => loop(index, recorder))).ToArray();

        await Task.Delay(warmup);
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var allocatedBefore = GC.GetTotalAllocatedBytes();
        var gen2Before = GC.CollectionCount(2);
        var pauseBefore = GC.GetTotalPauseDuration();
        var startedAt = Stopwatch.GetTimestamp();
        window.Begin();

        await Task.Delay(duration);

        window.End();
        var seconds = Stopwatch.GetElapsedTime(startedAt).TotalSeconds;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        var allocated = GC.GetTotalAllocatedBytes() - allocatedBefore;
        var gen2 = GC.CollectionCount(2) - gen2Before;
        var pause = (GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds;
        await Task.WhenAll(running);
        return new RunResult(seconds,
            Percentiles.Of(recorders.Select(r => r.Latencies)),
            Percentiles.Of(recorders.Select(r => r.SideLatencies)),
            recorders.Count(r => r.Latencies.Count == 0), recorders.Sum(r => r.Refused), recorders.Sum(r => r.Errors),
            cpu, allocated, gen2, pause);
    }

    /// <summary>The run whose rate is the median of the repetitions (its latencies come with it, from the same window).</summary>
    public static RunResult Median(IReadOnlyList<RunResult> runs) =>
        runs.OrderBy(r => r.PerSecond).ElementAt(runs.Count / 2);
}
