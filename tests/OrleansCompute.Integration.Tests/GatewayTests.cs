using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Catalog;
using OrleansCompute.Abstractions.Inference;
using OrleansCompute.Abstractions.Leases;
using OrleansCompute.Cli.Devnet;
using OrleansCompute.Host.Gateway;
using OrleansCompute.Integration.Tests.Infrastructure;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>Inference on a lease through the OpenAI-compatible gateway: any OpenAI client, every token metered and paid on chain.</summary>
[Collection(MarketCollection.Name)]
public sealed class GatewayTests(MarketFixture market)
{
    private const string Model = SimulatedAccelerator.Model;

    [Fact]
    public async Task The_official_OpenAI_SDK_lists_models_completes_and_streams_on_a_Trainium2_lease_and_the_chain_pays_exactly_the_tokens_metered()
    {
        var tenant = market.Wallets[2];
        // A lease pays the fee the escrow charged when it opened.
        var feeBps = await market.Escrow.GetFeeBpsAsync();
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant, "--bill-by", "tokens");
        var client = Client(apiKey);

        var models = (await client.GetOpenAIModelClient().GetModelsAsync()).Value;
        var model = Assert.Single(models);
        Assert.Equal(Model, model.Id);
        Assert.Equal("orleanscompute-simulated-trainium2", model.OwnedBy);

        var chat = client.GetChatClient(Model);
        ChatCompletion whole = await chat.CompleteChatAsync([new UserChatMessage("What does a Trainium2 slot cost?")], new ChatCompletionOptions { MaxOutputTokenCount = 40 });
        Assert.False(string.IsNullOrWhiteSpace(whole.Content[0].Text));
        Assert.InRange(whole.Usage.OutputTokenCount, 1, 40);
        Assert.True(whole.Usage.InputTokenCount > 0);

        var streamed = new StringBuilder();
        var updates = 0;
        ChatTokenUsage? streamUsage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Stream a short answer.")]))
        {
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            updates++;
            streamUsage ??= update.Usage;
        }
        Assert.True(updates > 3, $"a streamed answer arrives in pieces, got {updates} update(s)");
        Assert.NotNull(streamUsage);
        Assert.False(string.IsNullOrWhiteSpace(streamed.ToString()));

        // Plain completions, which the SDK no longer wraps: over HTTP.
        var text = await market.PostInferenceAsync(apiKey, "/v1/completions", new { model = Model, prompt = "Once upon a time", max_tokens = 12 });
        Assert.Equal(HttpStatusCode.OK, text.Status);
        var textUsage = text.Json.GetProperty("usage");
        Assert.Equal(12, textUsage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", text.Json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        // A list of one prompt, as some clients send it, is that prompt: the same answer.
        var listed = await market.PostInferenceAsync(apiKey, "/v1/completions", new { model = Model, prompt = new[] { "Once upon a time" }, max_tokens = 12 });
        Assert.Equal(HttpStatusCode.OK, listed.Status);
        Assert.Equal(text.Json.GetProperty("choices")[0].GetProperty("text").GetString(), listed.Json.GetProperty("choices")[0].GetProperty("text").GetString());

        var metered = await MeteredAsync(lease);
        var reported = whole.Usage.TotalTokenCount + streamUsage!.TotalTokenCount + textUsage.GetProperty("total_tokens").GetInt32()
                       + listed.Json.GetProperty("usage").GetProperty("total_tokens").GetInt32();
        Assert.Equal(4, metered.Requests);
        Assert.Equal(reported, metered.TotalTokens);

        var providerBefore = await market.Escrow.GetProviderBalanceAsync(lease.ProviderAddress!);
        var ended = await market.OccAsync("lease", "end", LeaseIds.Format(lease.Id), "--tenant", tenant.Name, "--json");
        Assert.True(ended.ExitCode == 0, ended.ToString());
        var settled = ended.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        var pricePerMillion = AcceleratorCatalog.Require("trainium2").PricePerMillionTokens(lease.PricePerSlotHour);
        var billed = LeaseBilling.OwedForTokens(pricePerMillion, reported, lease.Deposit);
        Assert.Equal(LeaseStatus.Settled, settled.Status);
        Assert.Equal(billed, settled.AmountOwed);
        var onChain = await market.OnChainAsync(lease.Id);
        Assert.Equal(billed, onChain!.Paid);
        // The provider is credited what the lease paid less the escrow's fee, which is rounded down.
        var fee = Credits.FromUnits(billed.Units * feeBps / 10_000);
        Assert.Equal(providerBefore + billed - fee, await market.Escrow.GetProviderBalanceAsync(lease.ProviderAddress!));
        Assert.Equal(lease.Deposit - billed, settled.Refunded);
        await market.AssertConservedAsync();

        // The key died with the lease.
        var afterEnd = await market.PostInferenceAsync(apiKey, "/v1/chat/completions", new { model = Model, messages = new[] { new { role = "user", content = "hi" } } });
        Assert.Equal((HttpStatusCode.Unauthorized, "invalid_api_key"), (afterEnd.Status, afterEnd.Code));
    }

    [Fact]
    public async Task Missing_or_wrong_keys_malformed_json_unknown_models_and_absurd_max_tokens_get_OpenAI_errors_and_meter_nothing()
    {
        var tenant = market.Wallets[3];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant);
        var forged = apiKey[..^8] + "00000000";
        var chat = new { model = Model, messages = new[] { new { role = "user", content = "hi" } } };

        var cases = new List<(string Name, GatewayResponse Response, HttpStatusCode Status, string Code)>
        {
            ("no key", await market.PostInferenceAsync(null, "/v1/chat/completions", chat), HttpStatusCode.Unauthorized, "invalid_api_key"),
            ("not a lease key", await market.PostInferenceAsync("sk-something", "/v1/chat/completions", chat), HttpStatusCode.Unauthorized, "invalid_api_key"),
            ("wrong secret", await market.PostInferenceAsync(forged, "/v1/chat/completions", chat), HttpStatusCode.Unauthorized, "invalid_api_key"),
            ("another lease's id", await market.PostInferenceAsync($"occ_{Guid.NewGuid():N}_{apiKey[^64..]}", "/v1/chat/completions", chat), HttpStatusCode.Unauthorized, "invalid_api_key"),
            ("malformed JSON", await market.PostInferenceRawAsync(apiKey, "/v1/chat/completions", "{\"model\": "), HttpStatusCode.BadRequest, "invalid_request"),
            ("no messages", await market.PostInferenceAsync(apiKey, "/v1/chat/completions", new { model = Model, messages = Array.Empty<object>() }), HttpStatusCode.BadRequest, "invalid_request"),
            ("unknown model", await market.PostInferenceAsync(apiKey, "/v1/chat/completions", chat with { model = "gpt-9" }), HttpStatusCode.NotFound, "model_not_found"),
            ("absurd max_tokens", await market.PostInferenceAsync(apiKey, "/v1/completions", new { model = Model, prompt = "x", max_tokens = 10_000_000 }), HttpStatusCode.BadRequest, "invalid_request"),
            // Values of the wrong JSON type are refused, never read as something else (or a 500).
            ("a role that is a number", await market.PostInferenceRawAsync(apiKey, "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":1,"content":"hi"}]}"""), HttpStatusCode.BadRequest, "invalid_request"),
            ("content parts that are strings", await market.PostInferenceRawAsync(apiKey, "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":"user","content":["hi"]}]}"""), HttpStatusCode.BadRequest, "invalid_request"),
            ("a text part that is a number", await market.PostInferenceRawAsync(apiKey, "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":"user","content":[{"type":"text","text":5}]}]}"""), HttpStatusCode.BadRequest, "invalid_request"),
            ("a part type that is a number", await market.PostInferenceRawAsync(apiKey, "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":"user","content":[{"type":7,"text":"x"}]}]}"""), HttpStatusCode.BadRequest, "invalid_request"),
            ("several prompts", await market.PostInferenceRawAsync(apiKey, "/v1/completions", $$"""{"model":"{{Model}}","prompt":["a","b"]}"""), HttpStatusCode.BadRequest, "invalid_request"),
            ("stream that is a string", await market.PostInferenceRawAsync(apiKey, "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"hi"}],"stream":"yes"}"""), HttpStatusCode.BadRequest, "invalid_request"),
            // 4.8 MB, 800,000 tokens: far beyond the context window, refused before it is admitted, let alone run.
            ("a chat prompt beyond the context window", await market.PostInferenceAsync(apiKey, "/v1/chat/completions", new { model = Model, messages = new[] { new { role = "user", content = HugePrompt } } }), HttpStatusCode.BadRequest, "context_length_exceeded"),
            ("a prompt beyond the context window", await market.PostInferenceAsync(apiKey, "/v1/completions", new { model = Model, prompt = HugePrompt }), HttpStatusCode.BadRequest, "context_length_exceeded"),
            ("a prompt that fits only without the completion asked for", await market.PostInferenceAsync(apiKey, "/v1/completions", new { model = Model, prompt = string.Concat(Enumerable.Repeat(" hello", 32_000)), max_tokens = 1_000 }), HttpStatusCode.BadRequest, "context_length_exceeded"),
            ("a body that is not JSON", await market.PostInferenceRawAsync(apiKey, "/v1/chat/completions", JsonSerializer.Serialize(chat), "text/plain"), HttpStatusCode.UnsupportedMediaType, "unsupported_media_type"),
        };

        foreach (var (name, response, status, code) in cases)
        {
            Assert.True(response.Status == status && response.Code == code, $"{name}: {response.Status} {response.Code}");
            Assert.False(string.IsNullOrEmpty(response.Json.GetProperty("error").GetProperty("message").GetString()), name);
        }
        Assert.Equal(0, (await MeteredAsync(lease)).Requests);

        await EndAsync(lease, tenant);
    }

    [Fact]
    public async Task A_lease_over_its_slots_concurrency_gets_429_with_Retry_After_and_the_requests_it_ran_are_metered()
    {
        var tenant = market.Wallets[0];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant, "--kind", "inferentia2");

        // One Inferentia2 slot runs 8 requests at once; each of these streams for about two seconds.
        var requests = Enumerable.Range(0, 12)
            .Select(i => market.PostInferenceAsync(apiKey, "/v1/completions", new { model = Model, prompt = $"request {i}", max_tokens = 200, stream = true }))
            .ToList();
        var responses = await Task.WhenAll(requests);

        var refused = responses.Where(r => r.Status == HttpStatusCode.TooManyRequests).ToList();
        var served = responses.Where(r => r.Status == HttpStatusCode.OK).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, r => Assert.Equal(("concurrency_limit", true), (r.Code, r.RetryAfter is not null)));
        Assert.Equal(12, refused.Count + served.Count);
        Assert.InRange(served.Count, 1, 8);
        Assert.All(served, r => Assert.EndsWith("data: [DONE]\n\n", r.Body));

        var metered = await Eventually.WaitForAsync(
            () => market.Api.GetLeaseAsync(LeaseIds.Format(lease.Id), default),
            l => l.Usage.Requests == served.Count, TimeSpan.FromSeconds(10));
        Assert.Equal(served.Count, metered.Usage.Requests);

        var cli = await market.OccAsync("infer", LeaseIds.Format(lease.Id), "Hello there", "--max-tokens", "16", "--tenant", tenant.Name, "--json");
        Assert.True(cli.ExitCode == 0, cli.ToString());
        Assert.Equal(16, cli.Json.GetProperty("completionTokens").GetInt32());

        await EndAsync(lease, tenant);
    }

    [Fact]
    public async Task A_pool_with_an_upstream_server_proxies_requests_and_streams_and_meters_the_usage_it_reports()
    {
        var tenant = market.Wallets[1];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant, "--kind", "h200");
        Assert.Equal(MarketFixture.UpstreamPoolWithUsage, lease.PoolKey);
        var client = Client(apiKey);

        var model = Assert.Single((await client.GetOpenAIModelClient().GetModelsAsync()).Value);
        Assert.Equal(FakeUpstream.Model, model.Id);
        var chat = client.GetChatClient(FakeUpstream.Model);
        ChatCompletion whole = await chat.CompleteChatAsync([new UserChatMessage("Who answers?")]);
        Assert.Equal(string.Concat(FakeUpstream.Pieces), whole.Content[0].Text);
        Assert.Equal((FakeUpstream.ReportedPromptTokens, FakeUpstream.Pieces.Length), (whole.Usage.InputTokenCount, whole.Usage.OutputTokenCount));

        // A stream stays a stream: pieces arrive as the upstream sends them, not all at the end.
        var arrivals = new List<(TimeSpan At, string Text)>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Stream it.")]))
        {
            foreach (var part in update.ContentUpdate) arrivals.Add((clock.Elapsed, part.Text));
        }
        Assert.Equal(FakeUpstream.Pieces, arrivals.Select(a => a.Text));
        Assert.True(arrivals[^1].At - arrivals[0].At >= FakeUpstream.PieceDelay * 2, $"pieces arrived {arrivals[0].At} .. {arrivals[^1].At}");

        // The upstream got the host's key for it, never the tenant's lease key, and a streamed request asks it for usage.
        var received = market.Upstream.Received.Where(r => r.Path.StartsWith("/usage/", StringComparison.Ordinal)).ToList();
        Assert.All(received, r => Assert.Equal($"Bearer {FakeUpstream.ApiKey}", r.Authorization));
        Assert.True(received[^1].Body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        // A request that names no bound on its completion is sent with the gateway's, which its checks counted on.
        Assert.All(received, r => Assert.Equal(OpenAiWire.DefaultMaxTokens, r.Body.GetProperty("max_tokens").GetInt32()));

        var metered = await MeteredAsync(lease);
        Assert.Equal(new LeaseUsage(2, 2 * FakeUpstream.ReportedPromptTokens, 2 * FakeUpstream.Pieces.Length), metered);
        await EndAsync(lease, tenant);
    }

    [Fact]
    public async Task An_upstream_that_reports_no_usage_is_metered_by_counting_tokens()
    {
        var tenant = market.Wallets[1];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant, "--kind", "mi300x");
        Assert.Equal(MarketFixture.UpstreamPoolWithoutUsage, lease.PoolKey);
        var messages = new[] { new { role = "user", content = "Count me, please." } };

        var answer = await market.PostInferenceAsync(apiKey, "/v1/chat/completions", new { model = FakeUpstream.Model, messages });

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var tokens = new TokenCounter();
        var expected = new LeaseUsage(1, tokens.CountChat([new OrleansCompute.Host.Gateway.ChatMessage("user", "Count me, please.")]), tokens.Count(string.Concat(FakeUpstream.Pieces)));
        Assert.Equal(expected, await MeteredAsync(lease));
        await EndAsync(lease, tenant);
    }

    [Fact]
    public async Task A_lease_paying_as_it_goes_gets_402_at_its_voucher_threshold_is_paid_by_its_session_key_topped_up_and_goes_on()
    {
        var tenant = market.Wallets[3];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant, "--bill-by", "tokens", "--voucher-every", "0.00005", "--session-key");
        Assert.True(lease.VoucherSigner is not null, JsonSerializer.Serialize(lease, ApiJson.Options));
        var request = new { model = Model, prompt = "Tell me about Trainium2.", max_tokens = 200 };

        // An answer of 24 to 96 tokens costs about 0.00002 at a Trainium2's price per token: the third or so crosses the threshold.
        var due = await market.PostUntilPaymentRequiredAsync(apiKey, "/v1/completions", request);
        Assert.NotNull(due);
        Assert.Equal("voucher_required", due.Code);
        var amount = due.Json.GetProperty("error").GetProperty("amount_to_sign").GetString();
        var funded = await market.Api.GetLeaseAsync(LeaseIds.Format(lease.Id), default);
        Assert.Equal(funded.Channel, due.Json.GetProperty("error").GetProperty("channel_to_sign").GetUInt32());
        Assert.Equal(HttpStatusCode.PaymentRequired, (await market.PostInferenceAsync(apiKey, "/v1/completions", request)).Status);
        // What the lease could never run says so while it waits for its voucher, and is not metered.
        var unknownModel = await market.PostInferenceAsync(apiKey, "/v1/completions", request with { model = "gpt-9" });
        var tooLong = await market.PostInferenceAsync(apiKey, "/v1/completions", request with { prompt = HugePrompt });
        Assert.Equal((HttpStatusCode.NotFound, "model_not_found"), (unknownModel.Status, unknownModel.Code));
        Assert.Equal((HttpStatusCode.BadRequest, "context_length_exceeded"), (tooLong.Status, tooLong.Code));
        Assert.Equal(funded.Usage, await MeteredAsync(lease));

        // The CLI signs with the lease's session key; the lease goes on, and settlement pays the voucher on chain.
        var paid = await market.OccAsync("lease", "voucher", LeaseIds.Format(lease.Id), "--tenant", tenant.Name, "--json");
        Assert.True(paid.ExitCode == 0, paid.ToString());
        Assert.Equal(amount, paid.Json.GetProperty("lastVoucher").GetProperty("amount").GetString());
        foreach (var (wrong, why) in new[] { ("0", "is not above zero"), ("-1", "is not above zero"), ("1.1234567", "has more than 6 decimals"), ("99999999999999999999999999", "is out of range") })
        {
            var refused = await market.OccAsync("lease", "voucher", LeaseIds.Format(lease.Id), "--amount", wrong, "--tenant", tenant.Name);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains($"--amount: '{wrong}' {why}", refused.Error);
        }
        Assert.Equal(HttpStatusCode.OK, (await market.PostInferenceAsync(apiKey, "/v1/completions", request)).Status);
        var settled = await Eventually.WaitForAsync(() => market.Api.GetLeaseAsync(LeaseIds.Format(lease.Id), default),
            l => l.Paid.ToString() == amount, TimeSpan.FromSeconds(20));
        Assert.Equal(amount, (await market.OnChainAsync(lease.Id))!.Paid.ToString());

        // occ infer pays by itself when the gateway asks for a voucher.
        for (var i = 0; i < 4; i++)
        {
            var inferred = await market.OccAsync("infer", LeaseIds.Format(lease.Id), $"Question {i}", "--max-tokens", "200", "--tenant", tenant.Name, "--json");
            Assert.True(inferred.ExitCode == 0, inferred.ToString());
        }
        var afterInfer = await market.Api.GetLeaseAsync(LeaseIds.Format(lease.Id), default);
        Assert.True(Credits.TryParse(amount, out var manual) && afterInfer.LastVoucher!.Amount > manual, "occ infer signed a voucher when asked");

        var stranger = await market.OccAsync("lease", "top-up", LeaseIds.Format(lease.Id), "1.5", "--tenant", market.Wallets[0].Name);
        Assert.Equal(1, stranger.ExitCode);
        Assert.Contains($"belongs to {lease.Tenant}", stranger.Error);
        var topUp = await market.OccAsync("lease", "top-up", LeaseIds.Format(lease.Id), "1.5", "--tenant", tenant.Name, "--json");
        Assert.True(topUp.ExitCode == 0, topUp.ToString());
        var toppedUp = topUp.Json.GetProperty("lease").Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal(lease.Deposit + Credits.FromCredits(1.5m), toppedUp.Escrowed);

        var ended = await market.OccAsync("lease", "end", LeaseIds.Format(lease.Id), "--tenant", tenant.Name, "--json");
        Assert.True(ended.ExitCode == 0, ended.ToString());
        var final = ended.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal(LeaseStatus.Settled, final.Status);
        var onChain = (await market.OnChainAsync(lease.Id))!;
        Assert.Equal(final.AmountOwed, onChain.Paid);
        Assert.Equal(toppedUp.Escrowed - final.AmountOwed, final.Refunded);
        await market.AssertConservedAsync();
    }

    [Fact]
    public async Task Stop_sequences_end_the_answer_before_them_whole_or_streamed_and_what_was_generated_is_metered()
    {
        var tenant = market.Wallets[0];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant);
        var chat = Client(apiKey).GetChatClient(Model);
        const string prompt = "Where does it stop?";
        ChatCompletion full = await chat.CompleteChatAsync([new UserChatMessage(prompt)], new ChatCompletionOptions { MaxOutputTokenCount = 96 });
        var text = full.Content[0].Text;
        // A stop sequence across two pieces of the stream: the end of the fourth word, the space and the start of the fifth.
        var fifthWord = text.Split(' ')[..4].Sum(w => w.Length + 1);
        var stop = text.Substring(fifthWord - 3, 5);
        var expected = text[..text.IndexOf(stop, StringComparison.Ordinal)];
        var withStop = new ChatCompletionOptions { MaxOutputTokenCount = 96, StopSequences = { stop, "never generated" } };

        ChatCompletion whole = await chat.CompleteChatAsync([new UserChatMessage(prompt)], withStop);
        Assert.Equal((expected, ChatFinishReason.Stop), (whole.Content[0].Text, whole.FinishReason));
        Assert.InRange(whole.Usage.OutputTokenCount, 1, full.Usage.OutputTokenCount - 1);

        var streamed = new StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? streamUsage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(prompt)], withStop))
        {
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            finish ??= update.FinishReason;
            streamUsage ??= update.Usage;
        }
        Assert.Equal((expected, ChatFinishReason.Stop), (streamed.ToString(), finish));

        var completion = await market.PostInferenceAsync(apiKey, "/v1/completions", new { model = Model, prompt, max_tokens = 96, stop });
        Assert.Equal(HttpStatusCode.OK, completion.Status);
        var choice = completion.Json.GetProperty("choices")[0];
        Assert.Equal((expected, "stop"), (choice.GetProperty("text").GetString(), choice.GetProperty("finish_reason").GetString()));

        var metered = await MeteredAsync(lease);
        Assert.Equal(full.Usage.TotalTokenCount + whole.Usage.TotalTokenCount + streamUsage!.TotalTokenCount
                     + completion.Json.GetProperty("usage").GetProperty("total_tokens").GetInt32(), metered.TotalTokens);
        await EndAsync(lease, tenant);
    }

    [Fact]
    public async Task Sampling_values_OpenAI_refuses_more_than_one_choice_bad_stop_sequences_and_two_different_completion_bounds_get_400_and_meter_nothing()
    {
        var tenant = market.Wallets[1];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant);
        string Chat(string extra) => $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"hi"}],"max_tokens":4,{{extra}}}""";

        foreach (var (extra, param) in new[]
                 {
                     ("\"n\":3", "n"), ("\"n\":0", "n"), ("\"n\":\"1\"", "n"),
                     ("\"temperature\":7", "temperature"), ("\"temperature\":-0.5", "temperature"), ("\"temperature\":\"hot\"", "temperature"),
                     ("\"top_p\":1.5", "top_p"), ("\"presence_penalty\":3", "presence_penalty"), ("\"frequency_penalty\":-2.5", "frequency_penalty"),
                     ("\"stop\":7", "stop"), ("\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]", "stop"), ("\"stop\":[\"\"]", "stop"), ("\"stop\":[1]", "stop"),
                     // Two bounds for one completion (the body names max_tokens 4): a server behind may honour either.
                     ("\"max_completion_tokens\":3000", "max_tokens"),
                 })
        {
            var refused = await market.PostInferenceRawAsync(apiKey, "/v1/chat/completions", Chat(extra));
            Assert.True(refused.Status == HttpStatusCode.BadRequest && refused.Code == "invalid_request", $"{extra}: {refused.Status} {refused.Body}");
            Assert.Equal(param, refused.Json.GetProperty("error").GetProperty("param").GetString());
        }
        Assert.Equal(0, (await MeteredAsync(lease)).Requests);

        var served = await market.PostInferenceRawAsync(apiKey, "/v1/chat/completions",
            Chat("\"n\":1,\"temperature\":0.7,\"top_p\":1,\"presence_penalty\":-2,\"frequency_penalty\":2,\"stop\":null,\"max_completion_tokens\":4"));
        Assert.True(served.Status == HttpStatusCode.OK, served.Body);
        Assert.Single(served.Json.GetProperty("choices").EnumerateArray());
        await EndAsync(lease, tenant);
    }

    [Fact]
    public async Task A_revoked_or_unknown_key_gets_401_whatever_its_body_and_the_scheme_name_is_case_insensitive()
    {
        var tenant = market.Wallets[2];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant);
        var chat = JsonSerializer.Serialize(new { model = Model, messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 4 });

        using (var http = new HttpClient { BaseAddress = new Uri(market.Devnet.ApiUrl) })
        {
            using var lowercase = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(chat, Encoding.UTF8, "application/json") };
            lowercase.Headers.TryAddWithoutValidation("Authorization", $"bearer {apiKey}");
            using var answered = await http.SendAsync(lowercase);
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        }
        await EndAsync(lease, tenant);

        var unknownLease = $"occ_{Guid.NewGuid():N}_{apiKey[^64..]}";
        foreach (var (name, response) in new[]
                 {
                     ("revoked key, malformed JSON", await market.PostInferenceRawAsync(apiKey, "/v1/chat/completions", "{\"model\": ")),
                     ("revoked key, unknown model", await market.PostInferenceRawAsync(apiKey, "/v1/chat/completions", chat.Replace(Model, "gpt-9"))),
                     ("unknown lease, body not JSON", await market.PostInferenceRawAsync(unknownLease, "/v1/completions", chat, "text/plain")),
                     ("unknown lease, no messages", await market.PostInferenceRawAsync(unknownLease, "/v1/chat/completions", "{\"model\":\"x\"}")),
                 })
        {
            Assert.True(response.Status == HttpStatusCode.Unauthorized && response.Code == "invalid_api_key", $"{name}: {response.Status} {response.Body}");
        }
    }

    [Fact]
    public async Task The_OpenAI_SDK_retrieves_the_lease_s_model_by_id_and_any_other_id_is_model_not_found()
    {
        var tenant = market.Wallets[3];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant);
        var models = Client(apiKey).GetOpenAIModelClient();

        var model = (await models.GetModelAsync(Model)).Value;
        Assert.Equal((Model, "orleanscompute-simulated-trainium2"), (model.Id, model.OwnedBy));
        var unknown = await Assert.ThrowsAsync<ClientResultException>(() => models.GetModelAsync("gpt-9"));
        Assert.Equal(404, unknown.Status);
        using var http = new HttpClient { BaseAddress = new Uri(market.Devnet.ApiUrl) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var answered = await http.GetAsync("/v1/models/meta-llama/gpt-9");
        var error = JsonDocument.Parse(await answered.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal((HttpStatusCode.NotFound, "model_not_found"), (answered.StatusCode, error.GetProperty("code").GetString()));
        await EndAsync(lease, tenant);
    }

    [Theory]
    [InlineData("POST", "/v1/embeddings")]
    [InlineData("GET", "/v1/chat/completions")]
    [InlineData("POST", "/v1/models")]
    public async Task A_url_the_gateway_does_not_serve_is_404_in_OpenAI_s_shape(string method, string path)
    {
        using var http = new HttpClient { BaseAddress = new Uri(market.Devnet.ApiUrl) };

        using var answered = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = new StringContent("{}", Encoding.UTF8, "application/json") });

        var error = JsonDocument.Parse(await answered.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal((HttpStatusCode.NotFound, "unknown_url"), (answered.StatusCode, error.GetProperty("code").GetString()));
        Assert.Contains($"{method} {path}", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_stream_relayed_from_an_upstream_has_a_usage_chunk_only_when_the_client_asked_and_is_metered_either_way()
    {
        var tenant = market.Wallets[0];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant, "--kind", "h200");
        Assert.Equal(MarketFixture.UpstreamPoolWithUsage, lease.PoolKey);
        var messages = new[] { new { role = "user", content = "Stream it." } };

        var unasked = await market.PostInferenceAsync(apiKey, "/v1/chat/completions", new { model = FakeUpstream.Model, messages, stream = true });
        var asked = await market.PostInferenceAsync(apiKey, "/v1/chat/completions", new { model = FakeUpstream.Model, messages, stream = true, stream_options = new { include_usage = true } });

        // Clients that did not ask read choices[0] of every chunk: none comes without choices.
        var unaskedChunks = Chunks(unasked);
        Assert.Equal(FakeUpstream.Pieces.Length + 1, unaskedChunks.Count);
        Assert.All(unaskedChunks, c => Assert.NotEqual(0, c.GetProperty("choices").GetArrayLength()));
        var askedChunks = Chunks(asked);
        Assert.Equal(FakeUpstream.Pieces.Length + 2, askedChunks.Count);
        Assert.Equal(0, askedChunks[^1].GetProperty("choices").GetArrayLength());
        Assert.Equal(FakeUpstream.Pieces.Length, askedChunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        var metered = await MeteredAsync(lease);
        Assert.Equal(new LeaseUsage(2, 2 * FakeUpstream.ReportedPromptTokens, 2 * FakeUpstream.Pieces.Length), metered);
        await EndAsync(lease, tenant);
    }

    [Fact]
    public async Task An_upstream_that_refuses_the_host_s_key_or_answers_with_no_completion_gives_502_and_meters_nothing()
    {
        var tenant = market.Wallets[2];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant, "--kind", "h200");

        foreach (var asked in new[] { FakeUpstream.RefuseTheHost, FakeUpstream.AnswerNotJson })
        {
            // Not 401: the tenant's key is fine, and its client must not say otherwise.
            var answer = await market.PostInferenceAsync(apiKey, "/v1/chat/completions", new { model = FakeUpstream.Model, messages = new[] { new { role = "user", content = asked } } });
            Assert.True(answer.Status == HttpStatusCode.BadGateway && answer.Body.Contains("\"code\":\"upstream_error\""), $"{asked}: {answer.Status} {answer.Body}");
        }
        Assert.Equal(LeaseUsage.None, await MeteredAsync(lease));
        await EndAsync(lease, tenant);
    }

    [Fact]
    public async Task An_upstream_that_never_answers_or_fails_gives_502_is_not_asked_twice_when_it_may_be_running_and_meters_nothing()
    {
        var tenant = market.Wallets[2];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant, "--kind", "h200");
        int Asked(string message) => market.Upstream.Received.Count(r =>
            r.Body.TryGetProperty("messages", out var messages) && messages[0].GetProperty("content").GetString() == message);
        var hangsBefore = Asked(FakeUpstream.Hang);

        var hung = await market.PostInferenceAsync(apiKey, "/v1/chat/completions", new { model = FakeUpstream.Model, messages = new[] { new { role = "user", content = FakeUpstream.Hang } } });
        var failed = await market.PostInferenceAsync(apiKey, "/v1/chat/completions", new { model = FakeUpstream.Model, messages = new[] { new { role = "user", content = FakeUpstream.Fail } } });

        Assert.True(hung.Status == HttpStatusCode.BadGateway && hung.Code == "upstream_unavailable", $"{hung.Status} {hung.Body}");
        // Timed out, it may still be running there: the host does not run it a second time.
        Assert.Equal(hangsBefore + 1, Asked(FakeUpstream.Hang));
        // A server failing is the pool's fault, told as such (not relayed as the tenant's 500), with what the server said.
        Assert.True(failed.Status == HttpStatusCode.BadGateway && failed.Code == "upstream_error" && failed.Body.Contains("CUDA out of memory"), $"{failed.Status} {failed.Body}");
        Assert.Equal(LeaseUsage.None, await MeteredAsync(lease));
        await EndAsync(lease, tenant);
    }

    [Fact]
    public async Task An_upstream_s_429_reaches_the_tenant_at_once_with_its_Retry_After_is_not_asked_again_and_meters_nothing()
    {
        var tenant = market.Wallets[0];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant, "--kind", "h200");
        int Asked() => market.Upstream.Received.Count(r =>
            r.Body.TryGetProperty("messages", out var messages) && messages[0].GetProperty("content").GetString() == FakeUpstream.RateLimited);
        var askedBefore = Asked();

        var refused = await market.PostInferenceAsync(apiKey, "/v1/chat/completions", new { model = FakeUpstream.Model, messages = new[] { new { role = "user", content = FakeUpstream.RateLimited } } });

        // The upstream's refusal as it came: its status, its Retry-After for the tenant to honour, its OpenAI error.
        Assert.True(refused.Status == HttpStatusCode.TooManyRequests && refused.Code == "rate_limit_exceeded", $"{refused.Status} {refused.Body}");
        Assert.Equal(TimeSpan.FromSeconds(7), refused.RetryAfter);
        Assert.Equal(("Rate limit reached for requests", "requests"), (refused.Message, refused.Json.GetProperty("error").GetProperty("type").GetString()));
        Assert.Equal(askedBefore + 1, Asked());
        Assert.Equal(LeaseUsage.None, await MeteredAsync(lease));
        await EndAsync(lease, tenant);
    }

    [Fact]
    public async Task A_client_that_gives_up_on_an_upstream_that_never_answered_is_not_metered()
    {
        var tenant = market.Wallets[2];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant, "--kind", "h200");
        while (market.Upstream.HangsEnded.Wait(0)) { } // hangs of earlier tests are theirs

        using (var http = new HttpClient { BaseAddress = new Uri(market.Devnet.ApiUrl), Timeout = TimeSpan.FromMilliseconds(500) })
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
               {
                   Content = JsonContent.Create(new { model = FakeUpstream.Model, messages = new[] { new { role = "user", content = FakeUpstream.Hang } } }),
               })
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            await Assert.ThrowsAnyAsync<TaskCanceledException>(() => http.SendAsync(request));
        }

        // The host gives up on the upstream as its client went and records what the request used right after: give it a
        // moment, then nothing is there.
        Assert.True(await market.Upstream.HangsEnded.WaitAsync(MarketFixture.UpstreamTimeout * 3), "the hung upstream call was never given up");
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(LeaseUsage.None, await MeteredAsync(lease));
        await EndAsync(lease, tenant);
    }

    [Fact]
    public async Task An_upstream_answer_that_breaks_off_or_turns_to_garbage_ends_in_an_OpenAI_error_and_meters_only_what_was_relayed()
    {
        var tenant = market.Wallets[3];
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant, "--kind", "h200");

        foreach (var asked in new[] { FakeUpstream.StreamGarbage, FakeUpstream.CutTheStream })
        {
            using var http = new HttpClient { BaseAddress = new Uri(market.Devnet.ApiUrl) };
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
            {
                Content = JsonContent.Create(new { model = FakeUpstream.Model, messages = new[] { new { role = "user", content = asked } }, stream = true }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            // The status goes out with the first piece; the failure comes after it, as the stream's last event: an OpenAI error.
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var first = await reader.ReadLineAsync();
            Assert.Equal(FakeUpstream.Pieces[0], JsonDocument.Parse(first!["data: ".Length..]).RootElement
                .GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString());
            if (asked == FakeUpstream.CutTheStream) market.Upstream.Cut.Release();

            var events = (await reader.ReadToEndAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.True(events.Length == 1, $"{asked}: {string.Join(" | ", events)}");
            var error = JsonDocument.Parse(events[0]["data: ".Length..]).RootElement.GetProperty("error");
            Assert.Equal(("api_error", "upstream_error"), (error.GetProperty("type").GetString(), error.GetProperty("code").GetString()));
        }

        // Not streamed, an answer cut off halfway is no answer: 502, and it is not metered.
        var cut = await market.PostInferenceAsync(apiKey, "/v1/chat/completions", new { model = FakeUpstream.Model, messages = new[] { new { role = "user", content = FakeUpstream.CutTheStream } } });
        Assert.True(cut.Status == HttpStatusCode.BadGateway && cut.Code is "upstream_error" or "upstream_unavailable", $"{cut.Status} {cut.Body}");

        // Each streamed request is metered for its prompt and the piece it relayed, not for the answer it never finished.
        var metered = await MeteredAsync(lease);
        Assert.Equal(2, metered.Requests);
        Assert.True(metered.PromptTokens > 0, metered.ToString());
        Assert.InRange(metered.CompletionTokens, 2L, FakeUpstream.Pieces.Length);
        await EndAsync(lease, tenant);
    }

    [Fact]
    public async Task Occ_infer_on_a_lease_of_an_upstream_pool_calls_the_model_that_pool_serves()
    {
        var tenant = market.Wallets[1];
        var (lease, _) = await market.LeaseWithKeyAsync(tenant, "--kind", "h200");

        var inferred = await market.OccAsync("infer", LeaseIds.Format(lease.Id), "Who answers?", "--tenant", tenant.Name, "--json");

        Assert.True(inferred.ExitCode == 0, inferred.ToString());
        Assert.Equal(string.Concat(FakeUpstream.Pieces), inferred.Json.GetProperty("text").GetString());
        await EndAsync(lease, tenant);
    }

    [Fact]
    public async Task An_hour_billed_lease_paying_as_it_goes_is_asked_for_its_time_so_far_paid_by_occ_infer_and_settles_its_bill()
    {
        var tenant = market.Wallets[1];
        // An Inferentia2 at 0.95 an hour owes 0.015834 for its first minute (the least billed): past 0.01 before any request.
        var (lease, apiKey) = await market.LeaseWithKeyAsync(tenant, "--kind", "inferentia2", "--voucher-every", "0.01");
        var request = new { model = Model, prompt = "Is time money?", max_tokens = 16 };

        var due = await market.PostInferenceAsync(apiKey, "/v1/completions", request);
        var inferred = await market.OccAsync("infer", LeaseIds.Format(lease.Id), "Is time money?", "--max-tokens", "16", "--tenant", tenant.Name);
        var paid = await Eventually.WaitForAsync(() => market.Api.GetLeaseAsync(LeaseIds.Format(lease.Id), default),
            l => l.LastVoucher is { } last && l.Paid == last.Amount, TimeSpan.FromSeconds(20));
        var ended = await market.OccAsync("lease", "end", LeaseIds.Format(lease.Id), "--tenant", tenant.Name, "--json");

        Assert.Equal((HttpStatusCode.PaymentRequired, "voucher_required"), (due.Status, due.Code));
        Assert.Equal("0.015834", due.Json.GetProperty("error").GetProperty("amount_to_sign").GetString());
        Assert.True(inferred.ExitCode == 0, inferred.ToString());
        Assert.Contains("[paid 0.015834 by voucher]", inferred.Output);
        Assert.Equal(Credits.FromCredits(0.015834m), paid.Paid);
        Assert.True(ended.ExitCode == 0, ended.ToString());
        var settled = ended.Json.Deserialize<LeaseSnapshot>(ApiJson.Options)!;
        Assert.Equal(LeaseStatus.Settled, settled.Status);
        Assert.True(settled.AmountOwed >= paid.Paid, $"the bill {settled.AmountOwed} is below the voucher paid, {paid.Paid}");
        var onChain = (await market.OnChainAsync(lease.Id))!;
        Assert.Equal((settled.AmountOwed, true), (onChain.Paid, onChain.Closed));
    }

    /// <summary>The JSON chunks of a server-sent event stream, checked to be framed as OpenAI frames them and to end with [DONE].</summary>
    private static List<JsonElement> Chunks(GatewayResponse stream)
    {
        Assert.Equal(HttpStatusCode.OK, stream.Status);
        var events = stream.Body.Split("\n\n");
        Assert.Equal(("data: [DONE]", ""), (events[^2], events[^1]));
        Assert.All(events[..^1], e => Assert.StartsWith("data: ", e));
        return events[..^2].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
    }

    private static readonly string HugePrompt = string.Concat(Enumerable.Repeat(" hello", 800_000));

    private OpenAIClient Client(string apiKey) =>
        new(new ApiKeyCredential(apiKey), new OpenAIClientOptions { Endpoint = new Uri($"{market.Devnet.ApiUrl}/v1") });

    /// <summary>What the lease has metered, as the host reports it.</summary>
    private async Task<LeaseUsage> MeteredAsync(LeaseSnapshot lease) => (await market.Api.GetLeaseAsync(LeaseIds.Format(lease.Id), default)).Usage;

    private async Task EndAsync(LeaseSnapshot lease, TenantWallet tenant)
    {
        var ended = await market.OccAsync("lease", "end", LeaseIds.Format(lease.Id), "--tenant", tenant.Name);
        Assert.True(ended.ExitCode == 0, ended.ToString());
    }
}
