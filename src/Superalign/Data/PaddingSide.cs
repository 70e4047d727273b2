namespace Superalign.Data;

/// <summary>Where padding goes in a row of token ids (Hugging Face's <c>padding_side</c>).</summary>
public enum PaddingSide
{
    /// <summary>After the sequence (the default for training).</summary>
    Right,

    /// <summary>Before the sequence, so that every row ends at the last column (for generating from prompts of different lengths).</summary>
    Left,
}
