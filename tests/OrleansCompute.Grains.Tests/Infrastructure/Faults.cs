// Faults a test injects into its cluster: a grain call that fails (before its grain runs it, or after, its answer lost)
// and a grain state write that fails. Rules are process-wide, as the test clusters' silos run in the test's process;
// each rule names what only its own test touches (a lease id, an account's address) and is used up after its count.
using System.Collections.Concurrent;
using Orleans.Storage;

namespace OrleansCompute.Grains.Tests.Infrastructure;

public static class Faults
{
    internal sealed class Rule(Func<string, object?, bool> matches, int times, bool afterRunning)
    {
        private int _left = times;

        public bool AfterRunning { get; } = afterRunning;

        public bool TryUse(string subject, object? argument) => matches(subject, argument) && Interlocked.Decrement(ref _left) >= 0;
    }

    private static readonly ConcurrentDictionary<Rule, byte> CallRules = new();
    private static readonly ConcurrentDictionary<Rule, byte> WriteRules = new();

    /// <summary>
    /// The next <paramref name="times"/> calls of <paramref name="method"/> (the interface's method name) whose first
    /// argument matches fail with an <see cref="InvalidOperationException"/>: before the grain runs them, or with
    /// <paramref name="afterRunning"/> after it did (the caller cannot tell it happened).
    /// </summary>
    public static void FailCalls(string method, Func<object?, bool> firstArgument, int times = 1, bool afterRunning = false) =>
        CallRules.TryAdd(new Rule((name, argument) => name == method && firstArgument(argument), times, afterRunning), 0);

    /// <summary>The next <paramref name="times"/> state writes of the grain whose id (type/key) contains <paramref name="grainKey"/> fail; nothing is stored.</summary>
    public static void FailWrites(string grainKey, int times = 1) =>
        WriteRules.TryAdd(new Rule((grainId, _) => grainId.Contains(grainKey, StringComparison.OrdinalIgnoreCase), times, afterRunning: false), 0);

    internal static Rule? TakeCall(string method, object? firstArgument) => Take(CallRules, method, firstArgument);

    internal static bool TakeWrite(GrainId grainId) => Take(WriteRules, grainId.ToString(), null) is not null;

    private static Rule? Take(ConcurrentDictionary<Rule, byte> rules, string subject, object? argument)
    {
        foreach (var rule in rules.Keys)
        {
            if (rule.TryUse(subject, argument)) return rule;
        }
        return null;
    }

    /// <summary>Fails the calls <see cref="FailCalls"/> names; register in a test silo with <c>AddIncomingGrainCallFilter</c>.</summary>
    public sealed class CallFilter : IIncomingGrainCallFilter
    {
        public async Task Invoke(IIncomingGrainCallContext context)
        {
            var argument = context.Request.GetArgumentCount() > 0 ? context.Request.GetArgument(0) : null;
            var rule = TakeCall(context.InterfaceMethod.Name, argument);
            if (rule is { AfterRunning: false }) throw new InvalidOperationException($"{context.InterfaceMethod.Name} failed before it ran");
            await context.Invoke();
            if (rule is { AfterRunning: true }) throw new InvalidOperationException($"{context.InterfaceMethod.Name} ran, and its answer was lost");
        }
    }

    /// <summary>Grain storage that fails the writes <see cref="FailWrites"/> names and hands everything else to <paramref name="inner"/>.</summary>
    public sealed class Storage(IGrainStorage inner) : IGrainStorage
    {
        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
            TakeWrite(grainId) ? throw new InvalidOperationException($"writing {grainId} failed") : inner.WriteStateAsync(stateName, grainId, grainState);

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);
    }
}
