// Stands in for the escrow contract in grain tests: records every settleBatch, and can be told to reject a lease's
// voucher (the batch goes through and names it, as the contract does, bundle members the batch carries too), to revert any batch holding it, to be
// unreachable for it, or to hold its batch in flight until the test lets it go. A test that models the contract itself routes its own leases' batches to that model (see Route).
// The real chain path is covered by the Anvil tests.
using System.Collections.Concurrent;
using System.Security.Cryptography;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Escrow;

namespace OrleansCompute.Grains.Tests.Infrastructure;

public sealed record SettlementAttempt(IReadOnlyList<SignedVoucher> Vouchers, SettlementReceipt? Receipt)
{
    /// <summary>When the batch was decided.</summary>
    public DateTimeOffset At { get; } = DateTimeOffset.UtcNow;

    public bool Contains(Guid leaseId) => Vouchers.Any(v => v.LeaseId == leaseId);

    /// <summary>Whether the batch went through and applied the lease's voucher (not naming it rejected).</summary>
    public bool Applied(Guid leaseId) => Contains(leaseId) && Receipt is { Succeeded: true } receipt && (receipt.Rejections ?? []).All(r => r.LeaseId != leaseId);
}

public sealed class RecordingEscrowSettlement : IEscrowSettlement
{
    private readonly ConcurrentQueue<SettlementAttempt> _attempts = new();
    private readonly ConcurrentDictionary<Guid, string> _reverts = new();
    private readonly ConcurrentDictionary<Guid, string> _rejections = new();
    private readonly ConcurrentDictionary<Guid, bool> _unreachable = new();
    private readonly ConcurrentDictionary<Guid, IEscrowSettlement> _routes = new();
    private long _blockNumber;

    public IReadOnlyList<SettlementAttempt> Attempts => _attempts.ToArray();

    public IReadOnlyList<SettlementAttempt> AttemptsFor(Guid leaseId) => Attempts.Where(a => a.Contains(leaseId)).ToList();

    /// <summary>Any batch holding this lease's voucher reverts with the contract error <paramref name="error"/>.</summary>
    public void RevertFor(Guid leaseId, string error) => _reverts[leaseId] = error;

    /// <summary>Batches go through, naming this lease's voucher as rejected with <paramref name="reason"/>.</summary>
    public void RejectFor(Guid leaseId, string reason) => _rejections[leaseId] = reason;

    /// <summary>Any batch holding this lease's voucher fails as if the RPC endpoint were down.</summary>
    public void BeUnreachableFor(Guid leaseId) => _unreachable[leaseId] = true;

    public void BeReachableFor(Guid leaseId) => _unreachable.TryRemove(leaseId, out _);

    /// <summary>Batches holding this lease's voucher go through again.</summary>
    public void StopRejectingFor(Guid leaseId) => _rejections.TryRemove(leaseId, out _);

    /// <summary>
    /// The next batch holding this lease's voucher is decided (mined) when sent, and its receipt stays in flight until
    /// <see cref="Held.Release"/>; <see cref="Held.Sent"/> completes once it is waiting.
    /// </summary>
    public Held HoldFor(Guid leaseId) => _holds[leaseId] = new Held();

    public sealed class Held
    {
        private readonly TaskCompletionSource _sent = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Sent => _sent.Task;

        public void Release() => _released.TrySetResult();

        internal Task WaitAsync()
        {
            _sent.TrySetResult();
            return _released.Task;
        }
    }

    private readonly ConcurrentDictionary<Guid, Held> _holds = new();

    /// <summary>
    /// Until the returned handle is disposed, any batch holding one of these leases' vouchers goes to
    /// <paramref name="contract"/> instead (recorded here all the same): a test that models the contract opts in for its
    /// own leases, and every other lease is settled as before.
    /// </summary>
    public IDisposable Route(IEnumerable<Guid> leaseIds, IEscrowSettlement contract)
    {
        var routed = leaseIds.ToList();
        foreach (var leaseId in routed) _routes[leaseId] = contract;
        return new Unroute(() =>
        {
            foreach (var leaseId in routed) _routes.TryRemove(new KeyValuePair<Guid, IEscrowSettlement>(leaseId, contract));
        });
    }

    public async Task<SettlementReceipt> SettleBatchAsync(IReadOnlyList<SignedVoucher> vouchers, CancellationToken cancellationToken)
    {
        var batch = vouchers.ToList();
        var receipt = await DecideAsync(batch, cancellationToken);
        foreach (var voucher in batch)
        {
            if (_holds.TryRemove(voucher.LeaseId, out var held)) await held.WaitAsync();
        }
        return receipt;
    }

    private async Task<SettlementReceipt> DecideAsync(List<SignedVoucher> batch, CancellationToken cancellationToken)
    {
        if (batch.Select(v => _routes.GetValueOrDefault(v.LeaseId)).FirstOrDefault(c => c is not null) is { } contract)
            return await SettleOnAsync(contract, batch, cancellationToken);
        if (batch.Any(v => _unreachable.ContainsKey(v.LeaseId)))
        {
            _attempts.Enqueue(new SettlementAttempt(batch, null));
            throw new HttpRequestException("Connection refused (chain RPC)");
        }

        var error = batch.Select(v => _reverts.GetValueOrDefault(v.LeaseId)).FirstOrDefault(e => e is not null);
        var receipt = new SettlementReceipt(
            "0x" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
            Interlocked.Increment(ref _blockNumber),
            Succeeded: error is null,
            error,
            error is null ? Carried(batch).Where(_rejections.ContainsKey).Select(id => new SettlementRejection(id, _rejections[id])).ToList() : null);
        _attempts.Enqueue(new SettlementAttempt(batch, receipt));
        return receipt;
    }

    private async Task<SettlementReceipt> SettleOnAsync(IEscrowSettlement contract, List<SignedVoucher> batch, CancellationToken cancellationToken)
    {
        try
        {
            var receipt = await contract.SettleBatchAsync(batch, cancellationToken);
            _attempts.Enqueue(new SettlementAttempt(batch, receipt));
            return receipt;
        }
        catch
        {
            _attempts.Enqueue(new SettlementAttempt(batch, null));
            throw;
        }
    }

    private sealed class Unroute(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    /// <summary>Every lease a batch carries, as the contract sees it: its vouchers' and the other members of their bundles.</summary>
    private static IEnumerable<Guid> Carried(IReadOnlyList<SignedVoucher> batch) =>
        batch.SelectMany(v => v.Bundle is { } bundle && EscrowBatch.ParseBundle(bundle) is { } members
                ? members.Select(m => LeaseIds.FromChainId(m.LeaseId)!.Value)
                : [v.LeaseId])
            .Distinct();
}
