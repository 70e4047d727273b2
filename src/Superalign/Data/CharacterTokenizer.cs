using System.Runtime.InteropServices;
using Superalign.Checkpoints;
using static TorchSharp.torch;

namespace Superalign.Data;

/// <summary>
/// A character-level tokenizer for the tiny language models: three special tokens (<see cref="Pad"/>,
/// <see cref="Bos"/>, <see cref="Eos"/>) then one id per character of an alphabet. It turns prompt/response text into
/// the token and response-mask tensors of <see cref="SupervisedDataset.ForCausalLm"/> and
/// <see cref="PreferenceDataset.ForCausalLm"/>, which is how JSONL preference files (<see cref="DataFiles.ReadPreferenceJsonl(string, int, int)"/>)
/// reach a <see cref="Students.TinyCausalLm"/>.
/// </summary>
/// <remarks>
/// A sequence is <c>BOS prompt response EOS</c>, right-padded with <see cref="Pad"/>; the response mask is 1 on the
/// response characters and the EOS, so a model learns where to stop. Characters outside the alphabet are an error
/// (never silently dropped). As a checkpoint part (<see cref="ICheckpointable"/>, e.g. in
/// <see cref="Optimization.TrainingCheckpoints.Extras"/>) it stores its alphabet: a resumed run checks that its tokenizer
/// is the one the run was saved with, and <see cref="FromCheckpoint"/> rebuilds it from the file.
/// </remarks>
public sealed class CharacterTokenizer : ITokenizer, ICheckpointable
{
    /// <summary>Padding id (masked out of every loss).</summary>
    public const long Pad = 0;

    /// <summary>Beginning-of-sequence id.</summary>
    public const long Bos = 1;

    /// <summary>End-of-sequence id: ends every response.</summary>
    public const long Eos = 2;

    private const int Specials = 3;
    private readonly Dictionary<char, long> _ids;

    /// <summary>A tokenizer over <paramref name="alphabet"/>'s characters, in order (ids 3, 4, …).</summary>
    /// <exception cref="ArgumentException">The alphabet is empty or repeats a character (the message names it).</exception>
    public CharacterTokenizer(string alphabet)
    {
        ArgumentException.ThrowIfNullOrEmpty(alphabet);
        _ids = new Dictionary<char, long>();
        for (int i = 0; i < alphabet.Length; i++)
        {
            if (!_ids.TryAdd(alphabet[i], Specials + i))
                throw new ArgumentException($"alphabet repeats the character '{Escape(alphabet[i])}' (positions {alphabet.IndexOf(alphabet[i])} and {i}).", nameof(alphabet));
        }
        Alphabet = alphabet;
    }

    /// <summary>A tokenizer whose alphabet is every character of <paramref name="texts"/>, in ordinal order.</summary>
    public static CharacterTokenizer FromTexts(IEnumerable<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var chars = new SortedSet<char>(texts.SelectMany(t => t ?? throw new ArgumentException("texts contains null.", nameof(texts))));
        if (chars.Count == 0) throw new ArgumentException("texts hold no characters.", nameof(texts));
        return new CharacterTokenizer(string.Concat(chars));
    }

    /// <summary>A tokenizer for every character of the prompts and completions of <paramref name="records"/>.</summary>
    public static CharacterTokenizer FromRecords(IEnumerable<PreferenceRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        return FromTexts(records.SelectMany(r => new[] { r.Prompt, r.Chosen, r.Rejected }));
    }

    /// <summary>The characters, in id order.</summary>
    public string Alphabet { get; }

    /// <summary>Writes the alphabet (as UTF-16 code units: an alphabet of single characters may split surrogate pairs).</summary>
    public void SaveState(CheckpointWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write("kind", "character");
        writer.Write("alphabet", MemoryMarshal.AsBytes(Alphabet.AsSpan()));
    }

    /// <summary>
    /// A tokenizer cannot change: checks that the checkpoint's tokenizer is this one (same alphabet, so the same ids)
    /// and applies nothing.
    /// </summary>
    /// <exception cref="CheckpointException">The run was saved with another tokenizer.</exception>
    public Action PrepareRestore(CheckpointReader reader)
    {
        string stored = StoredAlphabet(reader);
        if (stored != Alphabet)
            throw reader.Invalid("alphabet", $"the run was saved with another character tokenizer ({stored.Length} characters; this one has {Alphabet.Length}): token ids would differ.");
        return () => { };
    }

    /// <summary>The tokenizer stored in a checkpoint section (e.g. <c>Checkpoint.Read(path).Section("tokenizer")</c>).</summary>
    /// <exception cref="CheckpointException">The section holds no character tokenizer, or an invalid alphabet.</exception>
    public static CharacterTokenizer FromCheckpoint(CheckpointReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        string alphabet = StoredAlphabet(reader);
        try
        {
            return new CharacterTokenizer(alphabet);
        }
        catch (ArgumentException e)
        {
            throw reader.Invalid("alphabet", e.Message);
        }
    }

    private static string StoredAlphabet(CheckpointReader reader)
    {
        string kind = reader.ReadString("kind");
        if (kind != "character") throw reader.Invalid("kind", $"the checkpoint holds a '{kind}' tokenizer, not a character tokenizer.");
        var bytes = reader.ReadBytes("alphabet");
        if (bytes.Length % 2 != 0) throw reader.Invalid("alphabet", "an odd number of bytes is not UTF-16.");
        return new string(MemoryMarshal.Cast<byte, char>(bytes));
    }

    /// <summary>Number of ids: the alphabet plus the three special tokens.</summary>
    public int VocabularySize => Alphabet.Length + Specials;

    /// <summary><see cref="Bos"/>.</summary>
    public long? BosId => Bos;

    /// <summary><see cref="Eos"/>.</summary>
    public long? EosId => Eos;

    /// <summary><see cref="Pad"/>.</summary>
    public long? PadId => Pad;

    /// <summary>The ids of <paramref name="text"/>'s characters (no special tokens).</summary>
    /// <exception cref="ArgumentException">A character is not in the alphabet (the message names it and its position).</exception>
    public long[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new long[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            if (!_ids.TryGetValue(text[i], out ids[i]))
                throw new ArgumentException($"'{Escape(text[i])}' at position {i} of \"{Excerpts.Around(text, i)}\" is not in the tokenizer's alphabet \"{Excerpts.Of(Alphabet)}\".", nameof(text));
        }
        return ids;
    }

    /// <summary>
    /// The text of <paramref name="ids"/>: stops at the first <see cref="Eos"/> (or <see cref="Pad"/>), skips
    /// <see cref="Bos"/> wherever it is.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    public string Decode(IEnumerable<long> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new System.Text.StringBuilder();
        foreach (var id in ids)
        {
            if (id == Eos || id == Pad) break;
            if (id == Bos) continue;
            if (id < Specials || id >= VocabularySize)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary [0, {VocabularySize}).");
            text.Append(Alphabet[(int)(id - Specials)]);
        }
        return text.ToString();
    }

    /// <summary>Decodes each row of generated tokens <c>[B, N]</c> (see <see cref="Decode"/>).</summary>
    public IReadOnlyList<string> DecodeRows(Tensor tokens) => TokenizerExtensions.DecodeRows(this, tokens);

    /// <summary>Prompt ids <c>[B, 1 + P]</c> (<see cref="Bos"/> then the prompt) for prompts of equal length, for generation (see <see cref="TokenizerExtensions.EncodePrompts"/>).</summary>
    /// <param name="prompts">The prompts, all of one length (or any lengths with <see cref="PaddingSide.Left"/>).</param>
    /// <param name="device">Where the tensor goes (default CPU).</param>
    /// <param name="limits">Bounds on the sequence length and element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <param name="sequences">Truncation and padding (default <see cref="SequenceOptions.Default"/>).</param>
    /// <exception cref="ArgumentException">The prompts differ in length, hold characters outside the alphabet, or exceed the limits.</exception>
    public Tensor EncodePrompts(IReadOnlyList<string> prompts, Device? device = null, EncodingLimits? limits = null, SequenceOptions? sequences = null) =>
        TokenizerExtensions.EncodePrompts(this, prompts, device, limits, sequences);

    /// <summary>
    /// Tokens <c>[N, L]</c> (<c>BOS prompt response EOS</c>, right-padded) and the response mask <c>[N, L]</c> (1 on the
    /// response and its EOS) of <paramref name="examples"/> (see <see cref="TokenizerExtensions.EncodeExamples"/>).
    /// </summary>
    /// <param name="examples">The (prompt, response) pairs.</param>
    /// <param name="length">The width <c>L</c>, or null for the longest sequence.</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    /// <param name="limits">Bounds on the width and element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <param name="sequences">Truncation and padding (default <see cref="SequenceOptions.Default"/>: none, right).</param>
    /// <exception cref="ArgumentException">A character is outside the alphabet, a sequence is longer than <paramref name="length"/>
    /// (or, without it, than <see cref="EncodingLimits.MaxLength"/>), or the tensors would exceed <see cref="EncodingLimits.MaxElements"/>.</exception>
    public (Tensor Tokens, Tensor ResponseMask) EncodeExamples(IReadOnlyList<(string Prompt, string Response)> examples, int? length = null, Device? device = null, EncodingLimits? limits = null, SequenceOptions? sequences = null) =>
        TokenizerExtensions.EncodeExamples(this, examples, length, device, limits, sequences);

    /// <summary>A supervised (SFT) dataset (see <see cref="TokenizerExtensions.ToSupervisedDataset"/>).</summary>
    /// <param name="examples">The (prompt, response) pairs.</param>
    /// <param name="length">The width, or null for the longest sequence.</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    /// <param name="limits">Bounds on the width and element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <param name="sequences">Truncation and padding (default <see cref="SequenceOptions.Default"/>).</param>
    public SupervisedDataset ToSupervisedDataset(IReadOnlyList<(string Prompt, string Response)> examples, int? length = null, Device? device = null, EncodingLimits? limits = null, SequenceOptions? sequences = null) =>
        TokenizerExtensions.ToSupervisedDataset(this, examples, length, device, limits, sequences);

    /// <summary>A preference dataset from records (see <see cref="TokenizerExtensions.ToPreferenceDataset"/>).</summary>
    /// <param name="records">The records.</param>
    /// <param name="length">The width, or null for the longest sequence (at most <see cref="EncodingLimits.MaxLength"/>).</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    /// <param name="limits">Bounds on the width and element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <param name="sequences">Truncation and padding (default <see cref="SequenceOptions.Default"/>).</param>
    /// <exception cref="ArgumentException">A record holds a character outside the alphabet or is too long (the message
    /// names its file, line and length), or the tensors would exceed <see cref="EncodingLimits.MaxElements"/>.</exception>
    public PreferenceDataset ToPreferenceDataset(IReadOnlyList<PreferenceRecord> records, int? length = null, Device? device = null, EncodingLimits? limits = null, SequenceOptions? sequences = null) =>
        TokenizerExtensions.ToPreferenceDataset(this, records, length, device, limits, sequences);

    /// <summary>Endless SFT batches, encoded when drawn and padded per batch (see <see cref="TokenizerExtensions.SupervisedBatches"/>).</summary>
    /// <param name="examples">The (prompt, response) pairs.</param>
    /// <param name="batchSize">Examples per batch (the last batch of an epoch may be smaller).</param>
    /// <param name="seed">Seed of the shuffles.</param>
    /// <param name="shuffle">Reshuffle every epoch (default) or keep the order.</param>
    /// <param name="device">Where the batches go (default CPU).</param>
    /// <param name="limits">Bounds on a sequence's length and a batch's element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <param name="sequences">Truncation and padding (default <see cref="SequenceOptions.Default"/>).</param>
    /// <exception cref="ArgumentException">An example holds a character outside the alphabet or is too long (the message names it).</exception>
    public IBatchSource<SupervisedBatch> SupervisedBatches(IReadOnlyList<(string Prompt, string Response)> examples, int batchSize,
        int seed = 0, bool shuffle = true, Device? device = null, EncodingLimits? limits = null, SequenceOptions? sequences = null) =>
        TokenizerExtensions.SupervisedBatches(this, examples, batchSize, seed, shuffle, device, limits, sequences);

    /// <summary>Endless preference batches, encoded when drawn and padded per batch (see <see cref="TokenizerExtensions.PreferenceBatches"/>).</summary>
    /// <param name="records">The records.</param>
    /// <param name="batchSize">Pairs per batch.</param>
    /// <param name="seed">Seed of the shuffles.</param>
    /// <param name="shuffle">Reshuffle every epoch (default) or keep the order.</param>
    /// <param name="device">Where the batches go (default CPU).</param>
    /// <param name="limits">Bounds on a sequence's length and a batch's element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <param name="sequences">Truncation and padding (default <see cref="SequenceOptions.Default"/>).</param>
    /// <exception cref="ArgumentException">A record holds a character outside the alphabet or is too long (the message names its file and line).</exception>
    public IBatchSource<PreferenceBatch> PreferenceBatches(IReadOnlyList<PreferenceRecord> records, int batchSize,
        int seed = 0, bool shuffle = true, Device? device = null, EncodingLimits? limits = null, SequenceOptions? sequences = null) =>
        TokenizerExtensions.PreferenceBatches(this, records, batchSize, seed, shuffle, device, limits, sequences);

    private static string Escape(char c) => Excerpts.Char(c);
}
