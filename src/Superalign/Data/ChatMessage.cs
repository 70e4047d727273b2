namespace Superalign.Data;

/// <summary>One turn of a conversation in TRL's conversational format: <c>{"role": …, "content": …}</c>.</summary>
/// <param name="Role">The speaker: <c>system</c>, <c>user</c>, <c>assistant</c> (any non-empty role is kept as is).</param>
/// <param name="Content">The text of the turn.</param>
public sealed record ChatMessage(string Role, string Content);
