namespace Superalign.Data;

/// <summary>Which end of a prompt survives truncation (TRL's <c>truncation_mode</c>). A BOS is kept in either case.</summary>
public enum PromptTruncation
{
    /// <summary>Keep the end of the prompt, dropping tokens from its left (TRL's <c>keep_end</c>, the default): the part nearest the response stays.</summary>
    KeepEnd,

    /// <summary>Keep the start of the prompt, dropping tokens from its right (TRL's <c>keep_start</c>).</summary>
    KeepStart,
}
