namespace Superalign.Data;

/// <summary>What gives way first when <c>[BOS] prompt response [EOS]</c> is longer than <see cref="SequenceOptions.MaxLength"/>.</summary>
public enum TruncationPriority
{
    /// <summary>Shorten the prompt first (down to one token: its BOS, or its last kept token), then the response from its end (TRL's order).</summary>
    PromptFirst,

    /// <summary>Shorten the response first, from its end (its EOS goes first), down to one token, then the prompt.</summary>
    ResponseFirst,
}
