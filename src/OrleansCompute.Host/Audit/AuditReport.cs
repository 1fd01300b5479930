using OrleansCompute.Abstractions;

namespace OrleansCompute.Host.Audit;

/// <summary>
/// One difference between what the market's grains hold and what the chain says, with its likely cause.
/// <see cref="Subject"/> is a lease id, a provider address or <c>escrow</c> for the contract's own books.
/// </summary>
public sealed record AuditMismatch(string Subject, string Field, string? Market, string? Chain, string Cause);

/// <summary>
/// The audit at one block: what was compared and every mismatch; <see cref="Clean"/> when there is none. The escrow's
/// token balance is <see cref="OpenEscrows"/> + <see cref="TenantBalances"/> (refunds and deposits tenants hold in the
/// escrow) + <see cref="OwedToProviders"/> + <see cref="FeesAccrued"/>.
/// </summary>
public sealed record AuditReport(
    long Block,
    int LeasesChecked,
    int ProvidersChecked,
    Credits EscrowTokenBalance,
    Credits OpenEscrows,
    Credits TenantBalances,
    Credits OwedToProviders,
    Credits FeesAccrued,
    IReadOnlyList<AuditMismatch> Mismatches,
    IReadOnlyList<string> Notes)
{
    public bool Clean => Mismatches.Count == 0;
}
