// A write waiting in the group-commit queue. Its caller's task completes only once the batch it ran in has
// committed, and fails if that batch could not commit.
namespace OrleansCompute.Storage.Database;

internal abstract class PendingWrite
{
    /// <summary>Runs the write's statements inside the batch's transaction. Throwing fails the whole batch.</summary>
    public abstract void Execute(WriteTransaction transaction);

    public abstract void Committed();

    public abstract void Failed(Exception exception);
}

internal sealed class PendingWrite<T>(Func<WriteTransaction, T> write) : PendingWrite
{
    // Asynchronous continuations: the writer completes hundreds of these per batch and must not run callers' code.
    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private T _result = default!;

    public Task<T> Task => _completion.Task;

    public override void Execute(WriteTransaction transaction) => _result = write(transaction);

    public override void Committed() => _completion.TrySetResult(_result);

    public override void Failed(Exception exception) => _completion.TrySetException(exception);
}
