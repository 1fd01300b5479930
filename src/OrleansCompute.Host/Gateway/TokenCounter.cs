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

    /// <summary>The prompt of a request: its chat messages with their framing, or its plain prompt.</summary>
    public int CountPrompt(CompletionRequest request) => request.Messages is { } messages ? CountChat(messages) : Count(request.Prompt);

    public int CountChat(IReadOnlyList<ChatMessage> messages) =>
        messages.Sum(m => TokensPerMessage + Count(m.Role) + Count(m.Content)) + TokensPerReply;
}
