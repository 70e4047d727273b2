namespace Superalign.Data;

/// <summary>
/// Bounds on what a tokenizer (<see cref="TokenizerExtensions"/>) turns into tensors, so that one long record or many records cannot
/// ask for more memory than a machine has (or overflow an index): a clear <see cref="ArgumentException"/> naming the
/// record comes before any allocation.
/// </summary>
public sealed record EncodingLimits
{
    /// <summary>The default of <see cref="MaxLength"/>: 4,096 tokens.</summary>
    public const int DefaultMaxLength = 4096;

    /// <summary>The default of <see cref="MaxElements"/>: 2^27 (134,217,728) tokens, 1 GiB of int64 ids.</summary>
    public const long DefaultMaxElements = 1L << 27;

    /// <summary>The defaults.</summary>
    public static EncodingLimits Default { get; } = new();

    /// <summary>
    /// The longest sequence (<c>BOS prompt response EOS</c>) accepted when the width is inferred (no <c>length</c>
    /// given): every row is padded to the longest, so one long record would widen them all.
    /// </summary>
    public int MaxLength { get; init; } = DefaultMaxLength;

    /// <summary>The most elements (rows × width) of one token tensor; at most <see cref="Array.MaxLength"/> applies in any case.</summary>
    public long MaxElements { get; init; } = DefaultMaxElements;

    internal void Validate()
    {
        if (MaxLength < 2) throw new ArgumentOutOfRangeException("limits", MaxLength, "MaxLength must be at least 2 (BOS and EOS).");
        if (MaxElements < 1) throw new ArgumentOutOfRangeException("limits", MaxElements, "MaxElements must be positive.");
    }

    internal long ElementCap => Math.Min(MaxElements, Array.MaxLength);
}
