namespace Superalign.Data;

/// <summary>
/// A tokenizer as the library's datasets, protocols and samples use it: text to ids and back, the vocabulary size and
/// the special tokens. Everything built from token ids — prompt tensors for generation, SFT and preference datasets,
/// per-batch padded batch sources — comes from the shared extension methods of <see cref="TokenizerExtensions"/>, so
/// every tokenizer (the <see cref="CharacterTokenizer"/> of the tiny models, the GPT-2, byte-level BPE and
/// SentencePiece adapters of <see cref="Tokenizers.PretrainedTokenizer"/>, or your own) gets the same masks, BOS/EOS
/// rules, truncation and padding (<see cref="SequenceOptions"/>).
/// </summary>
/// <remarks>
/// A sequence is <c>[BOS] prompt response [EOS]</c>: the BOS only where <see cref="BosId"/> is not null, the EOS only
/// where <see cref="EosId"/> is not null; the response mask covers the response and its EOS. Padding uses
/// <see cref="PadId"/>, or the EOS where the tokenizer has no padding token (as GPT-2 does in TRL), or 0 where it has
/// neither; padding is masked out of every loss.
/// </remarks>
public interface ITokenizer
{
    /// <summary>The number of ids: every id <see cref="Encode"/> returns, and every special id, is below it.</summary>
    int VocabularySize { get; }

    /// <summary>The beginning-of-sequence id put before every prompt, or null where the tokenizer has none.</summary>
    long? BosId { get; }

    /// <summary>The end-of-sequence id put after every response (and the stop token of generation), or null where the tokenizer has none.</summary>
    long? EosId { get; }

    /// <summary>The padding id, or null where the tokenizer has none (the EOS then pads).</summary>
    long? PadId { get; }

    /// <summary>The ids of <paramref name="text"/>, without BOS or EOS.</summary>
    /// <exception cref="ArgumentException">The text cannot be encoded (e.g. a character outside a character tokenizer's alphabet); the message says where.</exception>
    long[] Encode(string text);

    /// <summary>
    /// The text of a generated row of ids: a BOS at the start and padding before the text are no text; the text ends at
    /// the first EOS (or padding after it).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    string Decode(IEnumerable<long> ids);
}
