using static TorchSharp.torch;

namespace Superalign.Data;

/// <summary>
/// What every <see cref="ITokenizer"/> builds from token ids: prompt tensors for generation and their decoding,
/// supervised (SFT) and preference datasets, and endless per-batch padded batch sources — with one set of rules
/// (<see cref="SequenceOptions"/>): a row is <c>[BOS] prompt response [EOS]</c>, the response mask covers the response
/// and its EOS, truncation follows TRL's <c>max_length</c>/<c>max_prompt_length</c>/<c>max_completion_length</c>, and
/// padding (<see cref="ITokenizer.PadId"/>, else the EOS, else 0) goes right or left.
/// </summary>
/// <remarks>
/// Without truncation (the default) a sequence that does not fit is an error naming it; the width of a tensor is the
/// given <c>length</c>, or else the longest sequence (at most <see cref="EncodingLimits.MaxLength"/>), and rows × width
/// is at most <see cref="EncodingLimits.MaxElements"/>, checked before anything is allocated.
/// </remarks>
public static class TokenizerExtensions
{
    /// <summary>
    /// Prompt ids <c>[B, W]</c> (<c>[BOS] prompt</c>, the prompt part truncated to <see cref="SequenceOptions.MaxPromptLength"/>)
    /// for generation. With right padding (the default) every prompt must encode to the same number of tokens; with
    /// <see cref="PaddingSide.Left"/> shorter prompts are left-padded to the longest.
    /// </summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="prompts">The prompts.</param>
    /// <param name="device">Where the tensor goes (default CPU).</param>
    /// <param name="limits">Bounds on the sequence length and element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <param name="sequences">Truncation and padding (default <see cref="SequenceOptions.Default"/>).</param>
    /// <exception cref="ArgumentException">The prompts differ in length (right padding), cannot be encoded, or exceed the limits.</exception>
    public static Tensor EncodePrompts(this ITokenizer tokenizer, IReadOnlyList<string> prompts, Device? device = null, EncodingLimits? limits = null, SequenceOptions? sequences = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("prompts is empty.", nameof(prompts));
        limits ??= EncodingLimits.Default;
        limits.Validate();
        sequences ??= SequenceOptions.Default;
        int bos = tokenizer.BosId is null ? 0 : 1;
        var rows = new long[prompts.Count][];
        int width = 0;
        for (int i = 0; i < prompts.Count; i++)
        {
            rows[i] = PromptPart(tokenizer, tokenizer.Encode(prompts[i] ?? throw new ArgumentException($"prompts[{i}] is null.", nameof(prompts))));
            if (sequences.MaxPromptLength is { } most) rows[i] = CutPrompt(rows[i], most, bos == 1, sequences.Truncation);
            if (rows[i].Length > limits.MaxLength)
                throw new ArgumentException(i == 0
                    ? $"prompts need {rows[0].Length:N0} tokens (BOS + prompt), more than MaxLength ({limits.MaxLength:N0}) of the encoding limits."
                    : $"prompts[{i}] needs {rows[i].Length:N0} tokens (BOS + prompt), more than MaxLength ({limits.MaxLength:N0}) of the encoding limits.", nameof(prompts));
            if (sequences.Padding == PaddingSide.Right && rows[i].Length != rows[0].Length)
                throw new ArgumentException($"prompts must all have the length of prompts[0] ({rows[0].Length - bos}) to be generated from together; prompts[{i}] has {rows[i].Length - bos}.", nameof(prompts));
            // Checked as the rows come, so that too many long prompts fail before their ids fill memory.
            width = Math.Max(width, rows[i].Length);
            CheckElements(prompts.Count, width, limits, nameof(prompts));
        }
        var ids = new long[prompts.Count * width];
        long pad = PadValue(tokenizer);
        if (pad != 0) Array.Fill(ids, pad);
        for (int i = 0; i < rows.Length; i++) rows[i].CopyTo(ids, i * width + width - rows[i].Length);
        return tensor(ids, new long[] { prompts.Count, width }, device: device);
    }

    /// <summary>Decodes each row of generated tokens <c>[B, N]</c> with <see cref="ITokenizer.Decode"/>.</summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="tokens">The ids, <c>[B, N]</c>.</param>
    /// <exception cref="ArgumentException">The tensor is not two-dimensional.</exception>
    public static IReadOnlyList<string> DecodeRows(this ITokenizer tokenizer, Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.dim() != 2) throw new ArgumentException($"tokens must have shape [B, N]; got [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        long rows = tokens.shape[0], width = tokens.shape[1];
        var flat = tokens.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
        var texts = new string[rows];
        for (long r = 0; r < rows; r++) texts[r] = tokenizer.Decode(new ArraySegment<long>(flat, (int)(r * width), (int)width));
        return texts;
    }

    /// <summary>
    /// Tokens <c>[N, L]</c> (<c>[BOS] prompt response [EOS]</c>, padded) and the response mask <c>[N, L]</c> (1 on the
    /// response and its EOS) of <paramref name="examples"/>. <c>L</c> is <paramref name="length"/>, or else the longest
    /// sequence, which must then be at most <see cref="EncodingLimits.MaxLength"/>; <c>N × L</c> must be at most
    /// <see cref="EncodingLimits.MaxElements"/>. Only <paramref name="sequences"/> truncates: a sequence that does not
    /// fit is otherwise an error naming it.
    /// </summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="examples">The (prompt, response) pairs.</param>
    /// <param name="length">The width <c>L</c>, or null for the longest sequence.</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    /// <param name="limits">Bounds on the width and element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <param name="sequences">Truncation and padding (default <see cref="SequenceOptions.Default"/>: none, right).</param>
    /// <exception cref="ArgumentException">A text cannot be encoded, a sequence is longer than <paramref name="length"/>
    /// (or, without it, than <see cref="EncodingLimits.MaxLength"/>), or the tensors would exceed <see cref="EncodingLimits.MaxElements"/>.</exception>
    public static (Tensor Tokens, Tensor ResponseMask) EncodeExamples(this ITokenizer tokenizer, IReadOnlyList<(string Prompt, string Response)> examples, int? length = null, Device? device = null, EncodingLimits? limits = null, SequenceOptions? sequences = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0) throw new ArgumentException("examples is empty.", nameof(examples));
        limits ??= EncodingLimits.Default;
        limits.Validate();
        sequences ??= SequenceOptions.Default;
        var rows = new (long[] Prompt, long[] Completion)[examples.Count];
        for (int i = 0; i < examples.Count; i++) rows[i] = FitExample(tokenizer, examples[i], i, sequences);
        int longestAt = LongestAt(rows.Length, i => rows[i].Prompt.Length + rows[i].Completion.Length);
        long longest = rows[longestAt].Prompt.Length + rows[longestAt].Completion.Length;
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
        return Pack(tokenizer, rows, width, sequences.Padding, device);
    }

    /// <summary>A supervised (SFT) dataset: the model learns to produce each response after its prompt (see <see cref="EncodeExamples"/>).</summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="examples">The (prompt, response) pairs.</param>
    /// <param name="length">The width, or null for the longest sequence.</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    /// <param name="limits">Bounds on the width and element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <param name="sequences">Truncation and padding (default <see cref="SequenceOptions.Default"/>).</param>
    public static SupervisedDataset ToSupervisedDataset(this ITokenizer tokenizer, IReadOnlyList<(string Prompt, string Response)> examples, int? length = null, Device? device = null, EncodingLimits? limits = null, SequenceOptions? sequences = null)
    {
        var (tokens, mask) = EncodeExamples(tokenizer, examples, length, device, limits, sequences);
        return SupervisedDataset.ForCausalLm(tokens, mask);
    }

    /// <summary>
    /// A preference dataset from records (e.g. read with <see cref="DataFiles.ReadPreferenceJsonl(string, int, int)"/>):
    /// chosen and rejected sequences padded to one length; a pair's prompt is truncated once, for its longer completion.
    /// </summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="records">The records.</param>
    /// <param name="length">The width, or null for the longest sequence (at most <see cref="EncodingLimits.MaxLength"/>).</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    /// <param name="limits">Bounds on the width and element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <param name="sequences">Truncation and padding (default <see cref="SequenceOptions.Default"/>).</param>
    /// <exception cref="ArgumentException">A record cannot be encoded or is too long (the message names its file, line
    /// and length), or the tensors would exceed <see cref="EncodingLimits.MaxElements"/>.</exception>
    public static PreferenceDataset ToPreferenceDataset(this ITokenizer tokenizer, IReadOnlyList<PreferenceRecord> records, int? length = null, Device? device = null, EncodingLimits? limits = null, SequenceOptions? sequences = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0) throw new ArgumentException("records is empty.", nameof(records));
        limits ??= EncodingLimits.Default;
        limits.Validate();
        sequences ??= SequenceOptions.Default;
        var pairs = records.Select(r => FitRecord(tokenizer, r, sequences)).ToArray();
        int longestAt = LongestAt(pairs.Length, i => Needed(pairs[i]));
        long longest = Needed(pairs[longestAt]);
        var where = records[longestAt].Location;
        if (length is { } given && longest > given)
            throw new ArgumentException($"{where}: the record needs {longest:N0} tokens (BOS + prompt + the longer completion + EOS) but length is {given:N0}.", nameof(length));
        if (length is null && longest > limits.MaxLength)
            throw new ArgumentException($"{where}: the record needs {longest:N0} tokens (BOS + prompt + the longer completion + EOS), more than MaxLength ({limits.MaxLength:N0}) of the encoding limits; pass length, or raise EncodingLimits.MaxLength.", nameof(records));
        int width = length ?? (int)longest;
        CheckElements(records.Count, width, limits, nameof(records));
        var (chosen, chosenMask) = Pack(tokenizer, pairs.Select(p => (p.Prompt, p.Chosen)).ToArray(), width, sequences.Padding, device);
        var (rejected, rejectedMask) = Pack(tokenizer, pairs.Select(p => (p.Prompt, p.Rejected)).ToArray(), width, sequences.Padding, device);
        return PreferenceDataset.ForCausalLm(chosen, chosenMask, rejected, rejectedMask);
    }

    /// <summary>
    /// Endless SFT batches of <paramref name="examples"/>, encoded when drawn and padded to the longest sequence of each
    /// batch, not of the whole set. Every example is checked here (encoding, <see cref="EncodingLimits.MaxLength"/>,
    /// a full batch of the longest within <see cref="EncodingLimits.MaxElements"/>); reshuffled every epoch with
    /// <paramref name="seed"/>; checkpointable.
    /// </summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="examples">The (prompt, response) pairs.</param>
    /// <param name="batchSize">Examples per batch (the last batch of an epoch may be smaller).</param>
    /// <param name="seed">Seed of the shuffles.</param>
    /// <param name="shuffle">Reshuffle every epoch (default) or keep the order.</param>
    /// <param name="device">Where the batches go (default CPU).</param>
    /// <param name="limits">Bounds on a sequence's length and a batch's element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <param name="sequences">Truncation and padding (default <see cref="SequenceOptions.Default"/>).</param>
    /// <exception cref="ArgumentException">An example cannot be encoded or is too long (the message names it).</exception>
    public static IBatchSource<SupervisedBatch> SupervisedBatches(this ITokenizer tokenizer, IReadOnlyList<(string Prompt, string Response)> examples, int batchSize,
        int seed = 0, bool shuffle = true, Device? device = null, EncodingLimits? limits = null, SequenceOptions? sequences = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0) throw new ArgumentException("examples is empty.", nameof(examples));
        limits ??= EncodingLimits.Default;
        limits.Validate();
        sequences ??= SequenceOptions.Default;
        var rows = examples.ToArray();
        long longest = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            var (p, c) = FitExample(tokenizer, rows[i], i, sequences);
            long needed = p.Length + c.Length;
            if (needed > limits.MaxLength)
                throw new ArgumentException($"examples[{i}] needs {needed:N0} tokens (BOS + prompt + response + EOS), more than MaxLength ({limits.MaxLength:N0}) of the encoding limits.", nameof(examples));
            longest = Math.Max(longest, needed);
        }
        CheckElements(Math.Min(batchSize, rows.Length), longest, limits, nameof(batchSize));
        var sampler = new EpochSampler(rows.Length, batchSize, shuffle, dropLast: false, seed);
        var kept = limits;
        var layout = sequences;
        return BatchSource.Sampled(sampler, indices =>
        {
            var (tokens, mask) = EncodeExamples(tokenizer, indices.Select(i => rows[i]).ToList(), null, device, kept, layout);
            return new SupervisedBatch(ResponseBatch.ForCausalLm(tokens, mask));
        });
    }

    /// <summary>
    /// Endless preference batches of <paramref name="records"/>, encoded when drawn: chosen and rejected padded to the
    /// longest sequence of each batch (see <see cref="SupervisedBatches"/>). The batches carry no cached reference
    /// log-probs: give the optimizer a reference policy (e.g. <see cref="Reference.FrozenReferencePolicy"/>).
    /// </summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="records">The records.</param>
    /// <param name="batchSize">Pairs per batch.</param>
    /// <param name="seed">Seed of the shuffles.</param>
    /// <param name="shuffle">Reshuffle every epoch (default) or keep the order.</param>
    /// <param name="device">Where the batches go (default CPU).</param>
    /// <param name="limits">Bounds on a sequence's length and a batch's element count (default <see cref="EncodingLimits.Default"/>).</param>
    /// <param name="sequences">Truncation and padding (default <see cref="SequenceOptions.Default"/>).</param>
    /// <exception cref="ArgumentException">A record cannot be encoded or is too long (the message names its file and line).</exception>
    public static IBatchSource<PreferenceBatch> PreferenceBatches(this ITokenizer tokenizer, IReadOnlyList<PreferenceRecord> records, int batchSize,
        int seed = 0, bool shuffle = true, Device? device = null, EncodingLimits? limits = null, SequenceOptions? sequences = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0) throw new ArgumentException("records is empty.", nameof(records));
        limits ??= EncodingLimits.Default;
        limits.Validate();
        sequences ??= SequenceOptions.Default;
        var rows = records.ToArray();
        long longest = 0;
        foreach (var record in rows)
        {
            long needed = Needed(FitRecord(tokenizer, record, sequences));
            if (needed > limits.MaxLength)
                throw new ArgumentException($"{record.Location}: the record needs {needed:N0} tokens (BOS + prompt + the longer completion + EOS), more than MaxLength ({limits.MaxLength:N0}) of the encoding limits.", nameof(records));
            longest = Math.Max(longest, needed);
        }
        CheckElements(Math.Min(batchSize, rows.Length), longest, limits, nameof(batchSize));
        var sampler = new EpochSampler(rows.Length, batchSize, shuffle, dropLast: false, seed);
        var kept = limits;
        var layout = sequences;
        return BatchSource.Sampled(sampler, indices => ToPreferenceDataset(tokenizer, indices.Select(i => rows[i]).ToList(), null, device, kept, layout).Pairs);
    }

    /// <summary>One (prompt, response) example encoded and fitted; an encoding error names <c>examples[index]</c>.</summary>
    private static (long[] Prompt, long[] Completion) FitExample(ITokenizer tokenizer, (string Prompt, string Response) example, int index, SequenceOptions sequences)
    {
        long[] prompt, response;
        try
        {
            prompt = tokenizer.Encode(example.Prompt);
            response = tokenizer.Encode(example.Response);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"examples[{index}]: {e.Message}", "examples", e);
        }
        var (p, c) = Fit(tokenizer, prompt, [response], sequences);
        return (p, c[0]);
    }

    /// <summary>
    /// The prompt part (<c>[BOS] prompt</c>) and completion parts (<c>response [EOS]</c>) of one prompt and its
    /// responses, truncated as <paramref name="sequences"/> says (see its remarks); the prompt is cut once, for the
    /// longest completion.
    /// </summary>
    internal static (long[] Prompt, long[][] Completions) Fit(ITokenizer tokenizer, long[] prompt, long[][] responses, SequenceOptions sequences)
    {
        bool bos = tokenizer.BosId is not null;
        var p = PromptPart(tokenizer, prompt);
        var cs = responses.Select(r => tokenizer.EosId is { } eos ? [.. r, eos] : r).ToArray();
        if (!sequences.Truncates) return (p, cs);
        if (sequences.MaxPromptLength is { } mostPrompt) p = CutPrompt(p, mostPrompt, bos, sequences.Truncation);
        if (sequences.MaxCompletionLength is { } mostCompletion) cs = cs.Select(c => Head(c, mostCompletion)).ToArray();
        if (sequences.MaxLength is { } most && p.Length + Longest(cs) > most)
        {
            if (sequences.Priority == TruncationPriority.PromptFirst)
            {
                p = CutPrompt(p, Math.Max(Math.Min(p.Length, 1), most - Longest(cs)), bos, sequences.Truncation);
                int room = most - p.Length;
                cs = cs.Select(c => Head(c, room)).ToArray();
            }
            else
            {
                int room = most - p.Length;
                cs = cs.Select(c => Head(c, Math.Max(Math.Min(c.Length, 1), room))).ToArray();
                p = CutPrompt(p, most - Longest(cs), bos, sequences.Truncation);
            }
        }
        return (p, cs);
    }

    /// <summary>The value padding columns hold: the padding id, else the EOS, else 0.</summary>
    internal static long PadValue(ITokenizer tokenizer) => tokenizer.PadId ?? tokenizer.EosId ?? 0;

    internal static void CheckElements(long rows, long width, EncodingLimits limits, string parameter)
    {
        long elements = rows * width;
        if (elements > limits.ElementCap)
            throw new ArgumentException($"{rows:N0} sequences of {width:N0} tokens are {elements:N0} elements per tensor, more than MaxElements ({limits.ElementCap:N0}) of the encoding limits; encode fewer or shorter sequences, or raise EncodingLimits.MaxElements.", parameter);
    }

    private static (long[] Prompt, long[] Chosen, long[] Rejected) FitRecord(ITokenizer tokenizer, PreferenceRecord record, SequenceOptions sequences)
    {
        var ids = new long[3][];
        int k = 0;
        foreach (var (field, text) in new[] { ("prompt", record.Prompt), ("chosen", record.Chosen), ("rejected", record.Rejected) })
        {
            try
            {
                ids[k++] = tokenizer.Encode(text);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"{record.Location}: field '{field}': {e.Message}", "records", e);
            }
        }
        var (p, cs) = Fit(tokenizer, ids[0], [ids[1], ids[2]], sequences);
        return (p, cs[0], cs[1]);
    }

    private static long Needed((long[] Prompt, long[] Chosen, long[] Rejected) pair) => pair.Prompt.Length + Math.Max(pair.Chosen.Length, pair.Rejected.Length);

    private static int Longest(long[][] parts) => parts.Length == 0 ? 0 : parts.Max(c => c.Length);

    private static int LongestAt(int count, Func<int, long> length)
    {
        int at = 0;
        for (int i = 1; i < count; i++)
        {
            if (length(i) > length(at)) at = i;
        }
        return at;
    }

    private static long[] PromptPart(ITokenizer tokenizer, long[] prompt) => tokenizer.BosId is { } b ? [b, .. prompt] : prompt;

    private static long[] Head(long[] ids, int count) => ids.Length <= count ? ids : ids[..count];

    private static long[] CutPrompt(long[] prompt, int count, bool bos, PromptTruncation truncation)
    {
        if (prompt.Length <= count) return prompt;
        if (truncation == PromptTruncation.KeepStart) return prompt[..count];
        return bos ? [prompt[0], .. prompt[(prompt.Length - count + 1)..]] : prompt[(prompt.Length - count)..];
    }

    private static (Tensor Tokens, Tensor Mask) Pack(ITokenizer tokenizer, IReadOnlyList<(long[] Prompt, long[] Completion)> rows, int width, PaddingSide side, Device? device)
    {
        var tokens = new long[rows.Count * width];
        var mask = new float[rows.Count * width];
        long pad = PadValue(tokenizer);
        if (pad != 0) Array.Fill(tokens, pad);
        for (int i = 0; i < rows.Count; i++)
        {
            var (prompt, completion) = rows[i];
            int at = i * width + (side == PaddingSide.Left ? width - prompt.Length - completion.Length : 0);
            prompt.CopyTo(tokens, at);
            int start = at + prompt.Length;
            completion.CopyTo(tokens, start);
            mask.AsSpan(start, completion.Length).Fill(1);
        }
        var shape = new long[] { rows.Count, width };
        return (tensor(tokens, shape, device: device), tensor(mask, shape, device: device));
    }
}
