using System.Security.Claims;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Abstractions.Market;
using OrleansCompute.Abstractions.Settlement;
using OrleansCompute.Chain.Escrow;
using OrleansCompute.Grains.Leases;
using OrleansCompute.Grains.Market;
using OrleansCompute.Host.Api.OpenApi;
using OrleansCompute.Host.Auth;

namespace OrleansCompute.Host.Api;

/// <summary>
/// The tenant's lease routes. Every change is signed by the tenant (see <see cref="TenantSignatureAuthentication"/>).
/// Ending is two steps because the amount owed is only known once the lease has ended:
/// <c>POST /end</c> fixes it, <c>POST /voucher</c> takes the tenant's signed final voucher for it.
/// </summary>
public static class LeaseEndpoints
{
    public static IEndpointRouteBuilder MapLeaseEndpoints(this IEndpointRouteBuilder app)
    {
        var leases = app.MapGroup("/api/leases").WithTags("Leases");

        // 402 when the tenant's wallet and escrow balance do not cover the deposit; 503 when the chain cannot say what they hold.
        leases.MapPost("/", CreateAsync).RequireAuthorization().RefusesAlso(StatusCodes.Status402PaymentRequired)
            .Produces<LeaseSnapshot>(StatusCodes.Status201Created)
            .WithSummary("Reserve slots, as many as the tenant's wallet and escrow balance pay the deposit of; the tenant then funds the escrow on chain (deposit, provider, expiry from the answer).");
        leases.MapGet("/", ListAsync).RequireAuthorization()
            .WithSummary("The signing tenant's leases.");
        leases.MapGet("/{id}", GetAsync)
            .WithSummary("One lease as its grain holds it.");
        leases.MapPost("/{id}/end", EndAsync).RequireAuthorization()
            .WithSummary("End the lease (or cancel it before funding); the answer carries the final voucher to sign.");
        leases.MapPost("/{id}/vouchers", SubmitUsageVoucherAsync)
            .WithSummary("A usage voucher for a lease paying as it goes, up to what it owes so far; its signature (the lease's signer) is the authority.");
        // A lease that is not Active has no key: 409 LeaseNotActive.
        leases.MapGet("/{id}/key", KeyAsync).RequireAuthorization().RefusesAlso(StatusCodes.Status409Conflict)
            .WithSummary("The active lease's inference key for /v1 (Authorization: Bearer …); its tenant only.");
        leases.MapPost("/{id}/voucher", SubmitVoucherAsync).RequireAuthorization()
            .WithSummary("The tenant's signed final voucher; it is settled on chain and the rest of the escrow refunded.");
        return app;
    }

    /// <summary>
    /// Reserves only a deposit the tenant can pay, read on the chain (its wallet and escrow balance): a key that holds
    /// nothing cannot keep capacity from others until its reservation lapses. The escrow is still what guards the money.
    /// </summary>
    private static async Task<IResult> CreateAsync(LeaseRequest request, ClaimsPrincipal user, LeaseRouter router, EscrowClient escrow, CancellationToken cancellationToken)
    {
        var tenant = user.Tenant();
        TenantFunds funds;
        try
        {
            funds = await escrow.GetTenantFundsAsync(tenant, cancellationToken);
        }
        catch (Exception failed) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ChainUnavailableException($"The chain did not say what tenant {tenant} holds ({failed.Message}).", failed);
        }
        var lease = await router.RequestAsync(tenant, request, funds.Total);
        return Results.Created($"/api/leases/{LeaseIds.Format(lease.Id)}", lease);
    }

    private static Task<IReadOnlyList<LeaseSnapshot>> ListAsync(ClaimsPrincipal user, LeaseDirectory leases) =>
        leases.ListAsync(user.Tenant());

    private static async Task<LeaseSnapshot> GetAsync(string id, LeaseDirectory leases) =>
        await leases.GetAsync(Problems.ParseLeaseId(id))
        ?? throw new MarketException(MarketError.NotFound, "UnknownLease", $"No lease '{id}'.");

    private static Task<LeaseSnapshot> EndAsync(string id, ClaimsPrincipal user, LeaseDirectory leases) =>
        leases.EndAsync(Problems.ParseLeaseId(id), user.Tenant());

    private static Task<LeaseSnapshot> SubmitUsageVoucherAsync(string id, SignedVoucher voucher, IGrainFactory grains) =>
        grains.GetGrain<ILeaseGrain>(Problems.ParseLeaseId(id)).SubmitUsageVoucherAsync(voucher);

    private static async Task<LeaseKeyResponse> KeyAsync(string id, ClaimsPrincipal user, IGrainFactory grains) =>
        new(id, await grains.GetGrain<ILeaseGrain>(Problems.ParseLeaseId(id)).GetApiKeyAsync(user.Tenant()));

    private static Task<LeaseSnapshot> SubmitVoucherAsync(string id, SignedVoucher voucher, ClaimsPrincipal user, IGrainFactory grains) =>
        grains.GetGrain<ILeaseGrain>(Problems.ParseLeaseId(id)).SubmitFinalVoucherAsync(user.Tenant(), voucher);
}

/// <summary>An active lease's inference key, for the host's <c>/v1</c> routes.</summary>
public sealed record LeaseKeyResponse(string LeaseId, string ApiKey);
