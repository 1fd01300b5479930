using Microsoft.ML.Tokenizers;

namespace OrleansCompute.Host.Gateway;

/// <summary>
/// Counts tokens the way OpenAI's current models do (o200k_base), for backends that report no usage of their own:
/// the simulated accelerator always, an upstream when it leaves <c>usage</c> out.
/// </summary>
public sealed class TokenCounter
{
    /// <summary>Per message, the chat format adds a few tokens of its own (role and separators), as OpenAI counts them.</summary>
    private const int TokensPerMessage = 3, TokensPerReply = 3;

    private readonly Tokenizer _tokenizer = TiktokenTokenizer.CreateForEncoding("o200k_base");

    public int Count(string text) => text.Length == 0 ? 0 : _tokenizer.CountTokens(text);

    public int CountChat(IReadOnlyList<ChatMessage> messages) =>
        messages.Sum(m => TokensPerMessage + Count(m.Role) + Count(m.Content)) + TokensPerReply;

    /// <summary>
    /// The prompt of a request (its chat messages with their framing, or its plain prompt), counted only up to
    /// <paramref name="limit"/>: null when it has more. A prompt of megabytes costs no more to refuse than one at the limit.
    /// </summary>
    public int? CountPromptWithin(CompletionRequest request, int limit)
    {
        if (request.Messages is not { } messages) return CountWithin(request.Prompt, limit);
        var total = TokensPerReply;
        foreach (var message in messages)
        {
            total += TokensPerMessage + Count(message.Role);
            if (CountWithin(message.Content, limit - total) is not { } content) return null;
            total += content;
        }
        return total <= limit ? total : null;
    }

    private int? CountWithin(string text, int limit)
    {
        if (limit < 0) return null;
        if (text.Length == 0) return 0;
        // o200k_base does not normalize: the index is into the text itself, and at its end when every token fitted.
        var end = _tokenizer.GetIndexByTokenCount(text, limit, out _, out var count);
        return end >= text.Length ? count : null;
    }
}
