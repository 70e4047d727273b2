using System.Runtime.InteropServices;
using Superalign.Checkpoints;
using static TorchSharp.torch;

namespace Superalign.Data;

/// <summary>
/// A character-level tokenizer for the tiny language models: three special tokens (<see cref="Pad"/>,
/// <see cref="Bos"/>, <see cref="Eos"/>) then one id per character of an alphabet. It turns prompt/response text into
/// the token and response-mask tensors of <see cref="SupervisedDataset.ForCausalLm"/> and
/// <see cref="PreferenceDataset.ForCausalLm"/>, which is how JSONL preference files (<see cref="DataFiles.ReadPreferenceJsonl"/>)
/// reach a <see cref="Students.TinyCausalLm"/>.
/// </summary>
/// <remarks>
/// A sequence is <c>BOS prompt response EOS</c>, right-padded with <see cref="Pad"/>; the response mask is 1 on the
/// response characters and the EOS, so a model learns where to stop. Characters outside the alphabet are an error
/// (never silently dropped). As a checkpoint part (<see cref="ICheckpointable"/>, e.g. in
/// <see cref="Optimization.TrainingCheckpoints.Extras"/>) it stores its alphabet: a resumed run checks that its tokenizer
/// is the one the run was saved with, and <see cref="FromCheckpoint"/> rebuilds it from the file.
/// </remarks>
public sealed class CharacterTokenizer : ICheckpointable
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
    /// <see cref="Bos"/>.
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
    public IReadOnlyList<string> DecodeRows(Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.dim() != 2) throw new ArgumentException($"tokens must have shape [B, N]; got [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        long rows = tokens.shape[0], width = tokens.shape[1];
        var flat = tokens.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
        var texts = new string[rows];
        for (long r = 0; r < rows; r++) texts[r] = Decode(new ArraySegment<long>(flat, (int)(r * width), (int)width));
        return texts;
    }

    /// <summary>Prompt ids <c>[B, 1 + P]</c> (<see cref="Bos"/> then the prompt) for prompts of equal length, for generation.</summary>
    /// <param name="prompts">The prompts, all of one length.</param>
    /// <param name="device">Where the tensor goes (default CPU).</param>
    /// <param name="limits">Bounds on the sequence length and element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <exception cref="ArgumentException">The prompts differ in length, hold characters outside the alphabet, or exceed the limits.</exception>
    public Tensor EncodePrompts(IReadOnlyList<string> prompts, Device? device = null, EncodingLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("prompts is empty.", nameof(prompts));
        limits ??= EncodingLimits.Default;
        limits.Validate();
        int length = prompts[0].Length;
        if (length + 1L > limits.MaxLength)
            throw new ArgumentException($"prompts need {length + 1L:N0} tokens (BOS + prompt), more than MaxLength ({limits.MaxLength:N0}) of the encoding limits.", nameof(prompts));
        CheckElements(prompts.Count, length + 1, limits, nameof(prompts));
        var ids = new long[prompts.Count * (length + 1)];
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Length != length)
                throw new ArgumentException($"prompts must all have the length of prompts[0] ({length}) to be generated from together; prompts[{i}] has {prompts[i].Length}.", nameof(prompts));
            ids[i * (length + 1)] = Bos;
            Encode(prompts[i]).CopyTo(ids, i * (length + 1) + 1);
        }
        return tensor(ids, new long[] { prompts.Count, length + 1 }, device: device);
    }

    /// <summary>
    /// Tokens <c>[N, L]</c> (<c>BOS prompt response EOS</c>, right-padded) and the response mask <c>[N, L]</c> (1 on the
    /// response and its EOS) of <paramref name="examples"/>. <c>L</c> is <paramref name="length"/>, or else the longest
    /// sequence, which must then be at most <see cref="EncodingLimits.MaxLength"/>; <c>N × L</c> must be at most
    /// <see cref="EncodingLimits.MaxElements"/>. Lengths are never truncated: a sequence that does not fit is an error
    /// naming it.
    /// </summary>
    /// <param name="examples">The (prompt, response) pairs.</param>
    /// <param name="length">The width <c>L</c>, or null for the longest sequence.</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    /// <param name="limits">Bounds on the width and element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <exception cref="ArgumentException">A character is outside the alphabet, a sequence is longer than <paramref name="length"/>
    /// (or, without it, than <see cref="EncodingLimits.MaxLength"/>), or the tensors would exceed <see cref="EncodingLimits.MaxElements"/>.</exception>
    public (Tensor Tokens, Tensor ResponseMask) EncodeExamples(IReadOnlyList<(string Prompt, string Response)> examples, int? length = null, Device? device = null, EncodingLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0) throw new ArgumentException("examples is empty.", nameof(examples));
        limits ??= EncodingLimits.Default;
        limits.Validate();
        var encoded = new (long[] Prompt, long[] Response)[examples.Count];
        for (int i = 0; i < examples.Count; i++)
        {
            try
            {
                encoded[i] = (Encode(examples[i].Prompt), Encode(examples[i].Response));
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"examples[{i}]: {e.Message}", nameof(examples), e);
            }
        }
        int longestAt = 0;
        for (int i = 1; i < encoded.Length; i++)
        {
            if (Needed(encoded[i].Prompt.Length, encoded[i].Response.Length) > Needed(encoded[longestAt].Prompt.Length, encoded[longestAt].Response.Length)) longestAt = i;
        }
        long longest = Needed(encoded[longestAt].Prompt.Length, encoded[longestAt].Response.Length);
        if (length is { } given)
        {
            if (longest > given)
                throw new ArgumentException($"examples[{longestAt}] needs {longest:N0} tokens (BOS + prompt + response + EOS) but length is {given:N0}.", nameof(length));
        }
        else if (longest > limits.MaxLength)
        {
            throw new ArgumentException($"examples[{longestAt}] needs {longest:N0} tokens (BOS + prompt + response + EOS), more than MaxLength ({limits.MaxLength:N0}) of the encoding limits; pass length, or raise EncodingLimits.MaxLength.", nameof(examples));
        }
        int width = length ?? (int)longest;
        CheckElements(examples.Count, width, limits, nameof(examples));
        var tokens = new long[examples.Count * width];
        var mask = new float[examples.Count * width];
        for (int i = 0; i < encoded.Length; i++)
        {
            int at = i * width;
            tokens[at] = Bos;
            encoded[i].Prompt.CopyTo(tokens, at + 1);
            int start = at + 1 + encoded[i].Prompt.Length;
            encoded[i].Response.CopyTo(tokens, start);
            tokens[start + encoded[i].Response.Length] = Eos;
            for (int j = start; j <= start + encoded[i].Response.Length; j++) mask[j] = 1;
        }
        var shape = new long[] { examples.Count, width };
        return (tensor(tokens, shape, device: device), tensor(mask, shape, device: device));
    }

    /// <summary>A supervised (SFT) dataset: the model learns to produce each response after its prompt (see <see cref="EncodeExamples"/>).</summary>
    /// <param name="examples">The (prompt, response) pairs.</param>
    /// <param name="length">The width, or null for the longest sequence.</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    /// <param name="limits">Bounds on the width and element count (default <see cref="EncodingLimits.Default"/>).</param>
    public SupervisedDataset ToSupervisedDataset(IReadOnlyList<(string Prompt, string Response)> examples, int? length = null, Device? device = null, EncodingLimits? limits = null)
    {
        var (tokens, mask) = EncodeExamples(examples, length, device, limits);
        return SupervisedDataset.ForCausalLm(tokens, mask);
    }

    /// <summary>
    /// A preference dataset from records (e.g. read with <see cref="DataFiles.ReadPreferenceJsonl"/>): chosen and
    /// rejected sequences padded to one length.
    /// </summary>
    /// <param name="records">The records.</param>
    /// <param name="length">The width, or null for the longest sequence (at most <see cref="EncodingLimits.MaxLength"/>).</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    /// <param name="limits">Bounds on the width and element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <exception cref="ArgumentException">A record holds a character outside the alphabet or is too long (the message
    /// names its file, line and length), or the tensors would exceed <see cref="EncodingLimits.MaxElements"/>.</exception>
    public PreferenceDataset ToPreferenceDataset(IReadOnlyList<PreferenceRecord> records, int? length = null, Device? device = null, EncodingLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0) throw new ArgumentException("records is empty.", nameof(records));
        limits ??= EncodingLimits.Default;
        limits.Validate();
        foreach (var record in records)
        {
            foreach (var (field, text) in new[] { ("prompt", record.Prompt), ("chosen", record.Chosen), ("rejected", record.Rejected) })
            {
                try
                {
                    Encode(text);
                }
                catch (ArgumentException e)
                {
                    throw new ArgumentException($"{record.Location}: field '{field}': {e.Message}", nameof(records), e);
                }
            }
        }
        int longestAt = 0;
        for (int i = 1; i < records.Count; i++)
        {
            if (Needed(records[i]) > Needed(records[longestAt])) longestAt = i;
        }
        long longest = Needed(records[longestAt]);
        var where = records[longestAt].Location;
        if (length is { } given && longest > given)
            throw new ArgumentException($"{where}: the record needs {longest:N0} tokens (BOS + prompt + the longer completion + EOS) but length is {given:N0}.", nameof(length));
        if (length is null && longest > limits.MaxLength)
            throw new ArgumentException($"{where}: the record needs {longest:N0} tokens (BOS + prompt + the longer completion + EOS), more than MaxLength ({limits.MaxLength:N0}) of the encoding limits; pass length, or raise EncodingLimits.MaxLength.", nameof(records));
        int width = length ?? (int)longest;
        CheckElements(records.Count, width, limits, nameof(records));
        var (chosen, chosenMask) = EncodeExamples(records.Select(r => (r.Prompt, r.Chosen)).ToList(), width, device, limits);
        var (rejected, rejectedMask) = EncodeExamples(records.Select(r => (r.Prompt, r.Rejected)).ToList(), width, device, limits);
        return PreferenceDataset.ForCausalLm(chosen, chosenMask, rejected, rejectedMask);
    }

    /// <summary>
    /// Endless SFT batches of <paramref name="examples"/>, encoded when drawn and padded to the longest sequence of each
    /// batch, not of the whole set: memory holds the texts, not every row at the longest length (a few long examples
    /// no longer widen every batch). Every example is checked here (alphabet, <see cref="EncodingLimits.MaxLength"/>,
    /// a full batch of the longest within <see cref="EncodingLimits.MaxElements"/>); reshuffled every epoch with
    /// <paramref name="seed"/>; checkpointable.
    /// </summary>
    /// <param name="examples">The (prompt, response) pairs.</param>
    /// <param name="batchSize">Examples per batch (the last batch of an epoch may be smaller).</param>
    /// <param name="seed">Seed of the shuffles.</param>
    /// <param name="shuffle">Reshuffle every epoch (default) or keep the order.</param>
    /// <param name="device">Where the batches go (default CPU).</param>
    /// <param name="limits">Bounds on a sequence's length and a batch's element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <exception cref="ArgumentException">An example holds a character outside the alphabet or is too long (the message names it).</exception>
    public IBatchSource<SupervisedBatch> SupervisedBatches(IReadOnlyList<(string Prompt, string Response)> examples, int batchSize,
        int seed = 0, bool shuffle = true, Device? device = null, EncodingLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0) throw new ArgumentException("examples is empty.", nameof(examples));
        limits ??= EncodingLimits.Default;
        limits.Validate();
        var rows = examples.ToArray();
        long longest = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            try
            {
                Encode(rows[i].Prompt);
                Encode(rows[i].Response);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"examples[{i}]: {e.Message}", nameof(examples), e);
            }
            long needed = Needed(rows[i].Prompt.Length, rows[i].Response.Length);
            if (needed > limits.MaxLength)
                throw new ArgumentException($"examples[{i}] needs {needed:N0} tokens (BOS + prompt + response + EOS), more than MaxLength ({limits.MaxLength:N0}) of the encoding limits.", nameof(examples));
            longest = Math.Max(longest, needed);
        }
        CheckElements(Math.Min(batchSize, rows.Length), longest, limits, nameof(batchSize));
        var sampler = new EpochSampler(rows.Length, batchSize, shuffle, dropLast: false, seed);
        var kept = limits;
        return BatchSource.Sampled(sampler, indices =>
        {
            var (tokens, mask) = EncodeExamples(indices.Select(i => rows[i]).ToList(), null, device, kept);
            return new SupervisedBatch(ResponseBatch.ForCausalLm(tokens, mask));
        });
    }

    /// <summary>
    /// Endless preference batches of <paramref name="records"/>, encoded when drawn: chosen and rejected padded to the
    /// longest sequence of each batch (see <see cref="SupervisedBatches"/>). The batches carry no cached reference
    /// log-probs: give the optimizer a reference policy (e.g. <see cref="Reference.FrozenReferencePolicy"/>).
    /// </summary>
    /// <param name="records">The records.</param>
    /// <param name="batchSize">Pairs per batch.</param>
    /// <param name="seed">Seed of the shuffles.</param>
    /// <param name="shuffle">Reshuffle every epoch (default) or keep the order.</param>
    /// <param name="device">Where the batches go (default CPU).</param>
    /// <param name="limits">Bounds on a sequence's length and a batch's element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <exception cref="ArgumentException">A record holds a character outside the alphabet or is too long (the message names its file and line).</exception>
    public IBatchSource<PreferenceBatch> PreferenceBatches(IReadOnlyList<PreferenceRecord> records, int batchSize,
        int seed = 0, bool shuffle = true, Device? device = null, EncodingLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0) throw new ArgumentException("records is empty.", nameof(records));
        limits ??= EncodingLimits.Default;
        limits.Validate();
        var rows = records.ToArray();
        long longest = 0;
        foreach (var record in rows)
        {
            foreach (var (field, text) in new[] { ("prompt", record.Prompt), ("chosen", record.Chosen), ("rejected", record.Rejected) })
            {
                try
                {
                    Encode(text);
                }
                catch (ArgumentException e)
                {
                    throw new ArgumentException($"{record.Location}: field '{field}': {e.Message}", nameof(records), e);
                }
            }
            long needed = Needed(record);
            if (needed > limits.MaxLength)
                throw new ArgumentException($"{record.Location}: the record needs {needed:N0} tokens (BOS + prompt + the longer completion + EOS), more than MaxLength ({limits.MaxLength:N0}) of the encoding limits.", nameof(records));
            longest = Math.Max(longest, needed);
        }
        CheckElements(Math.Min(batchSize, rows.Length), longest, limits, nameof(batchSize));
        var sampler = new EpochSampler(rows.Length, batchSize, shuffle, dropLast: false, seed);
        var kept = limits;
        return BatchSource.Sampled(sampler, indices => ToPreferenceDataset(indices.Select(i => rows[i]).ToList(), null, device, kept).Pairs);
    }

    private static string Escape(char c) => Excerpts.Char(c);

    private static long Needed(long prompt, long response) => 1 + prompt + response + 1;

    private static long Needed(PreferenceRecord record) => Needed(record.Prompt.Length, Math.Max(record.Chosen.Length, record.Rejected.Length));

    private static void CheckElements(long rows, long width, EncodingLimits limits, string parameter)
    {
        long elements = rows * width;
        if (elements > limits.ElementCap)
            throw new ArgumentException($"{rows:N0} sequences of {width:N0} tokens are {elements:N0} elements per tensor, more than MaxElements ({limits.ElementCap:N0}) of the encoding limits; encode fewer or shorter sequences, or raise EncodingLimits.MaxElements.", parameter);
    }
}
