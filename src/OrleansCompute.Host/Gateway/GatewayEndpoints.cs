using System.Text.Json;
using Microsoft.Extensions.Options;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Inference;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Grains;

namespace OrleansCompute.Host.Gateway;

/// <summary>
/// The OpenAI-compatible inference gateway: <c>/v1/models</c> (and <c>/v1/models/{id}</c>), <c>/v1/chat/completions</c>
/// (with <c>stream: true</c> as server-sent events) and <c>/v1/completions</c>, authenticated by a lease's key
/// (<c>Authorization: Bearer occ_…</c>). The lease admits each request (its key, its state, its slots' concurrency, and for
/// a token-billed lease what its escrow can pay for) and meters what it used; a refused request is answered in OpenAI's
/// error shape and meters nothing.
/// </summary>
public static class GatewayEndpoints
{
    public static IEndpointRouteBuilder MapGatewayEndpoints(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").WithTags("Inference (OpenAI-compatible)");
        v1.MapGet("/models", ModelsAsync).WithSummary("The model a lease's key can call: its pool's upstream model, or the simulated accelerator's.");
        v1.MapGet("/models/{**model}", ModelAsync).WithSummary("That model (an id may hold slashes), when it is the one the lease's key can call; else 404 model_not_found.");
        v1.MapPost("/chat/completions", (HttpContext http, IGrainFactory grains, InferenceBackends backends, LeasePools pools, LeaseMeters meters,
                    TokenCounter tokens, IOptions<MarketOptions> options) =>
                CompleteAsync(http, grains, backends, pools, meters, tokens, options.Value, chat: true))
            .WithSummary("A chat completion on the lease's slots; stream: true answers with server-sent events.");
        v1.MapPost("/completions", (HttpContext http, IGrainFactory grains, InferenceBackends backends, LeasePools pools, LeaseMeters meters,
                    TokenCounter tokens, IOptions<MarketOptions> options) =>
                CompleteAsync(http, grains, backends, pools, meters, tokens, options.Value, chat: false))
            .WithSummary("A text completion on the lease's slots.");
        // Anything else under /v1 (embeddings, a GET of a POST route) is refused in OpenAI's shape, as OpenAI refuses it,
        // so an OpenAI client reports the URL instead of failing to read a problem document.
        v1.Map("/{**path}", (HttpContext http) =>
                new OpenAiError(StatusCodes.Status404NotFound, $"Invalid URL ({http.Request.Method} {http.Request.Path}): this gateway serves " +
                    "GET /v1/models, GET /v1/models/{id}, POST /v1/chat/completions and POST /v1/completions.", "invalid_request_error", "unknown_url").ToResult())
            .ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> ModelsAsync(HttpContext http, IGrainFactory grains, InferenceBackends backends, LeasePools pools)
    {
        try
        {
            var model = await LeaseModelAsync(http, grains, backends, pools);
            return Results.Json(new { @object = "list", data = new[] { model } }, OpenAiWire.Json);
        }
        catch (OpenAiError refused)
        {
            return refused.ToResult();
        }
    }

    /// <summary>One model by its id, as OpenAI's clients retrieve it (<c>client.models.retrieve</c>).</summary>
    private static async Task<IResult> ModelAsync(string model, HttpContext http, IGrainFactory grains, InferenceBackends backends, LeasePools pools)
    {
        try
        {
            var served = await LeaseModelAsync(http, grains, backends, pools);
            return served.Id == model ? Results.Json(served, OpenAiWire.Json) : throw ModelNotFound(model, served.Id);
        }
        catch (OpenAiError refused)
        {
            return refused.ToResult();
        }
    }

    private sealed record ModelCard(string Id, string Object, long Created, string OwnedBy, string Description);

    private static async Task<ModelCard> LeaseModelAsync(HttpContext http, IGrainFactory grains, InferenceBackends backends, LeasePools pools)
    {
        var authorized = await AuthorizedAsync(KeyOf(http, grains), pools);
        var profile = AcceleratorCatalog.Require(authorized.Kind);
        var backend = backends.For(authorized.PoolKey);
        var description = backend is SimulatedAccelerator
            ? $"Simulated accelerator: deterministic filler text at the speed of a {profile.Name} ({profile.TokensPerSecond} tokens/s per slot, {profile.ReferenceModel}); no model runs."
            : $"Served by the pool's own inference server on {profile.Name}.";
        return new ModelCard(backend.ModelId, "model", 1_767_225_600L, backend.OwnedBy(profile), description);
    }

    private static async Task<IResult> CompleteAsync(HttpContext http, IGrainFactory grains, InferenceBackends backends, LeasePools pools,
        LeaseMeters meters, TokenCounter tokens, MarketOptions options, bool chat)
    {
        LeaseKey key;
        CompletionRequest request;
        JsonElement body;
        IInferenceBackend backend;
        int promptTokens;
        try
        {
            key = KeyOf(http, grains);
            // The key first, as OpenAI checks it: a caller without a live key learns nothing about its body. On a lease the
            // gateway knows, the key is checked by the admission below, or, when the request is refused before it, here.
            var known = pools.TryGet(key.LeaseId, out var poolKey);
            if (!known) poolKey = (await AuthorizedAsync(key, pools)).PoolKey;
            try
            {
                // What the lease could never run is refused before admission: it neither waits for room or a voucher (429, 402)
                // nor holds a slot, and meters nothing.
                body = await OpenAiWire.ReadBodyAsync(http.Request, http.RequestAborted);
                request = chat ? OpenAiWire.ParseChat(body) : OpenAiWire.ParseCompletion(body);
                backend = backends.For(poolKey);
                if (request.Model != backend.ModelId) throw ModelNotFound(request.Model, backend.ModelId);
                promptTokens = tokens.CountPromptWithin(request, OpenAiWire.ContextWindow - request.MaxTokens)
                               ?? throw OpenAiWire.ContextLengthExceeded(request);
            }
            catch (OpenAiError) when (known)
            {
                await AuthorizedAsync(key, pools);
                throw;
            }
        }
        catch (OpenAiError refused)
        {
            return refused.ToResult();
        }

        // The most it may be metered: the escrow must be able to pay for it before a slot runs it.
        var mostTokens = promptTokens + request.MaxTokens;
        var admission = await key.Lease.AdmitInferenceAsync(key.ApiKey, mostTokens);
        switch (admission.Outcome)
        {
            case AdmissionOutcome.Unauthorized:
                return Unauthorized(admission.Message).ToResult();
            case AdmissionOutcome.Busy:
                return new OpenAiError(429, admission.Message ?? "The lease is at its concurrency limit.", "rate_limit_exceeded", "concurrency_limit")
                    .ToResult(admission.RetryAfter);
            case AdmissionOutcome.PaymentRequired:
                // What to do is in the body: sign a voucher for amount_to_sign on channel_to_sign (POST /api/leases/{id}/vouchers),
                // or top up.
                return (admission.AmountToSign is { } amount
                    ? new OpenAiError(402, admission.Message ?? "Sign a voucher to go on.", "insufficient_quota", "voucher_required")
                    {
                        AmountToSign = amount.ToString(), ChannelToSign = admission.ChannelToSign,
                    }
                    : new OpenAiError(402, admission.Message ?? "The lease's escrow is nearly used up; top it up.", "insufficient_quota", "escrow_low")).ToResult();
        }

        // Admitted: from here the request is in flight on the lease, and what it used is recorded whatever happens.
        var meter = new UsageMeter();
        try
        {
            var call = new InferenceCall(request, body, chat, promptTokens, AcceleratorCatalog.Require(admission.Kind), options.InferenceConcurrencyPerSlot);
            await backend.AnswerAsync(http, call, meter);
            return Results.Empty;
        }
        catch (OpenAiError refused)
        {
            return refused.ToResult();
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away: what was made for it until then is still metered below.
            return Results.Empty;
        }
        finally
        {
            // Awaited, so that the lease counts the request out of flight before its client can send the next one; it never
            // fails, so an answer already given is not broken off (nor a refusal turned into a 500) by a metering failure.
            await meters.RecordAsync(key.LeaseId, key.Lease, meter.Usage, mostTokens);
        }
    }

    private sealed record LeaseKey(Guid LeaseId, ILeaseGrain Lease, string ApiKey);

    /// <summary>The lease the bearer key names; a missing or malformed key is refused before any grain is asked.</summary>
    private static LeaseKey KeyOf(HttpContext http, IGrainFactory grains)
    {
        var header = http.Request.Headers.Authorization.ToString();
        // The scheme's name is case-insensitive (RFC 9110): some clients send "bearer".
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            throw Unauthorized("Send the lease's key as 'Authorization: Bearer occ_…' (occ lease key ID).");
        var apiKey = header["Bearer ".Length..].Trim();
        if (!LeaseApiKeys.TryParseLeaseId(apiKey, out var leaseId)) throw Unauthorized("This is not a lease key.");
        return new LeaseKey(leaseId, grains.GetGrain<ILeaseGrain>(leaseId), apiKey);
    }

    /// <summary>What the lease says once it has said that the key is its own and that it is active; its pool is remembered.</summary>
    private static async Task<InferenceAdmission> AuthorizedAsync(LeaseKey key, LeasePools pools)
    {
        var authorized = await key.Lease.AuthorizeInferenceAsync(key.ApiKey);
        if (authorized.Outcome != AdmissionOutcome.Admitted) throw Unauthorized(authorized.Message);
        pools.Remember(key.LeaseId, authorized.PoolKey);
        return authorized;
    }

    private static OpenAiError ModelNotFound(string asked, string served) =>
        new(404, $"The model '{asked}' does not exist on this lease; GET /v1/models lists '{served}'.", "invalid_request_error", "model_not_found", "model");

    private static OpenAiError Unauthorized(string? message) =>
        new(401, message ?? "The key is not valid for an active lease.", "invalid_request_error", "invalid_api_key");
}
