// Faults a test injects into its cluster: a grain call that fails (before its grain runs it, or after, its answer lost)
// and a grain state write that fails; and a hook that acts the moment a call arrives. Rules are process-wide, as the test clusters' silos run in the test's process;
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

    /// <summary>
    /// Runs <paramref name="action"/> when the first call of <paramref name="method"/> whose first argument matches
    /// arrives, before its grain runs it: a change outside the cluster (the chain's, say) that the test needs to happen
    /// exactly then, neither before the grain is told of it nor after the grain has acted on it.
    /// </summary>
    public static void OnCall(string method, Func<object?, bool> firstArgument, Action action)
    {
        var done = 0;
        CallHooks.TryAdd(new Hook(
            (name, argument) => name == method && firstArgument(argument) && Interlocked.Exchange(ref done, 1) == 0, action), 0);
    }

    internal sealed record Hook(Func<string, object?, bool> Fires, Action Action);

    private static readonly ConcurrentDictionary<Hook, byte> CallHooks = new();

    internal static void RunHooks(string method, object? firstArgument)
    {
        foreach (var hook in CallHooks.Keys)
        {
            if (!hook.Fires(method, firstArgument)) continue;
            CallHooks.TryRemove(hook, out _);
            hook.Action();
        }
    }

    /// <summary>The next <paramref name="times"/> state writes of the grain whose id (type/key) contains <paramref name="grainKey"/> fail; nothing is stored.</summary>
    public static void FailWrites(string grainKey, int times = 1) => FailWrites(grainKey, _ => true, times);

    /// <summary>
    /// As <see cref="FailWrites(string, int)"/>, only for writes of a state that <paramref name="state"/> picks (a state
    /// that records one step and not the one before it, say); disposing the result stops the rule.
    /// </summary>
    public static IDisposable FailWrites(string grainKey, Func<object?, bool> state, int times = 1)
    {
        var rule = new Rule((grainId, written) => grainId.Contains(grainKey, StringComparison.OrdinalIgnoreCase) && state(written), times, afterRunning: false);
        WriteRules.TryAdd(rule, 0);
        return new Removal(() => WriteRules.TryRemove(rule, out _));
    }

    private sealed class Removal(Action remove) : IDisposable
    {
        public void Dispose() => remove();
    }

    internal static Rule? TakeCall(string method, object? firstArgument) => Take(CallRules, method, firstArgument);

    internal static bool TakeWrite(GrainId grainId, object? state) => Take(WriteRules, grainId.ToString(), state) is not null;

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
            RunHooks(context.InterfaceMethod.Name, argument);
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
            TakeWrite(grainId, grainState.State) ? throw new InvalidOperationException($"writing {grainId} failed") : inner.WriteStateAsync(stateName, grainId, grainState);

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);
    }
}
