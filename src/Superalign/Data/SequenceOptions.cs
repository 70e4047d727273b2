namespace Superalign.Data;

/// <summary>
/// How <see cref="TokenizerExtensions"/> lays prompt and response ids into rows: truncation with TRL's
/// <c>max_length</c>, <c>max_prompt_length</c> and <c>max_completion_length</c>, the side the prompt is cut from, what
/// gives way first, and the padding side. The defaults truncate nothing (a sequence that does not fit the width is an
/// error naming it) and pad on the right — the behaviour of <see cref="CharacterTokenizer"/> before this type existed.
/// </summary>
/// <remarks>
/// The prompt part is <c>[BOS] prompt</c> and the completion part <c>response [EOS]</c>; both lengths count their
/// special tokens. Steps, in order: the prompt part is cut to <see cref="MaxPromptLength"/> (keeping its BOS, from the
/// side <see cref="PromptTruncation"/> says), each completion part to <see cref="MaxCompletionLength"/> (keeping its
/// start, so an EOS is the first to go), then, where the whole is longer than <see cref="MaxLength"/>, the part
/// <see cref="Priority"/> names is shortened first (never below one token) and then the other. A preference pair's
/// prompt is truncated once, for the longer of its two completions, so both rows share it. The response mask covers
/// what is left of the completion part. Every option is checked when it is set.
/// </remarks>
public sealed record SequenceOptions
{
    private readonly int? _maxLength;
    private readonly int? _maxPromptLength;
    private readonly int? _maxCompletionLength;
    private readonly PromptTruncation _truncation;
    private readonly TruncationPriority _priority;
    private readonly PaddingSide _padding;

    /// <summary>No truncation, right padding.</summary>
    public static SequenceOptions Default { get; } = new();

    /// <summary>The most tokens of a whole sequence, <c>[BOS] prompt response [EOS]</c> (TRL's <c>max_length</c>); null: no limit. At least 2.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 2.</exception>
    public int? MaxLength
    {
        get => _maxLength;
        init => _maxLength = value is < 2 ? throw new ArgumentOutOfRangeException(nameof(MaxLength), value, "MaxLength must be at least 2 (a prompt token and a response token).") : value;
    }

    /// <summary>The most tokens of the prompt part, <c>[BOS] prompt</c> (TRL's <c>max_prompt_length</c>); null: no limit. At least 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 1.</exception>
    public int? MaxPromptLength
    {
        get => _maxPromptLength;
        init => _maxPromptLength = value is < 1 ? throw new ArgumentOutOfRangeException(nameof(MaxPromptLength), value, "MaxPromptLength must be at least 1.") : value;
    }

    /// <summary>The most tokens of the completion part, <c>response [EOS]</c> (TRL's <c>max_completion_length</c>); null: no limit. At least 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 1.</exception>
    public int? MaxCompletionLength
    {
        get => _maxCompletionLength;
        init => _maxCompletionLength = value is < 1 ? throw new ArgumentOutOfRangeException(nameof(MaxCompletionLength), value, "MaxCompletionLength must be at least 1.") : value;
    }

    /// <summary>Which end of a prompt survives (default <see cref="PromptTruncation.KeepEnd"/>: cut from the left).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined value.</exception>
    public PromptTruncation Truncation
    {
        get => _truncation;
        init => _truncation = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(Truncation), value, "Truncation must be KeepEnd or KeepStart.");
    }

    /// <summary>What gives way first to <see cref="MaxLength"/> (default <see cref="TruncationPriority.PromptFirst"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined value.</exception>
    public TruncationPriority Priority
    {
        get => _priority;
        init => _priority = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(Priority), value, "Priority must be PromptFirst or ResponseFirst.");
    }

    /// <summary>Where padding goes (default <see cref="PaddingSide.Right"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined value.</exception>
    public PaddingSide Padding
    {
        get => _padding;
        init => _padding = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(Padding), value, "Padding must be Right or Left.");
    }

    /// <summary>Whether any truncation is asked for.</summary>
    internal bool Truncates => MaxLength is not null || MaxPromptLength is not null || MaxCompletionLength is not null;
}
