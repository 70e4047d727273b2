using static TorchSharp.torch;

namespace Superalign;

/// <summary>
/// Decoding with a key/value cache for any <see cref="IIncrementalLanguageModel"/>: the prompt is read in one forward,
/// then each new token costs one position's forward. Batches of prompts of different lengths are left-padded
/// (<see cref="LeftPad"/>) and decoded together.
/// </summary>
public static class LanguageModelGeneration
{
    /// <summary>
    /// Generates continuations of <paramref name="prompts"/> with <paramref name="model"/>'s cache: greedy
    /// (temperature 0 or top-k 1) or sampled after temperature, top-k and top-p (<see cref="ProcessLogits"/>), with
    /// <c>multinomial</c> from a generator seeded by <see cref="GenerationOptions.Seed"/> (or the global one). Returns
    /// the generated tokens <c>[B, MaxNewTokens]</c>; positions after a row's stop token repeat that token.
    /// </summary>
    /// <remarks>
    /// Runs in evaluation mode under <c>no_grad</c> (the training mode is restored afterwards). Position ids are
    /// <see cref="PositionIds"/> of the prompt mask, continued by one per generated token, so a left-padded row
    /// decodes as it would alone. Each step's intermediates and the cache are disposed; the only tensor left is the
    /// result. The same seed draws the same random numbers as a cache-free loop that samples from the last position's
    /// logits of the full sequence at each step, so the tokens agree up to the floating-point differences between the
    /// two ways of computing those logits.
    /// </remarks>
    /// <param name="model">The model; its <see cref="ILanguageModelStudent.MaxSequenceLength"/> must hold the prompt
    /// and all generated tokens but the last (<c>P + MaxNewTokens - 1</c>).</param>
    /// <param name="prompts">Token ids, int64 <c>[B, P]</c> with P ≥ 1, on the model's device; padding on the left.</param>
    /// <param name="promptMask">Nonzero for real tokens, <c>[B, P]</c> (bool or integer); null when none is padding.
    /// Every row's last prompt token must be real.</param>
    /// <param name="options">Decoding options; validated here.</param>
    /// <exception cref="ArgumentException">The prompts or the mask have the wrong type or shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range, or the model's context cannot hold
    /// the prompt and <see cref="GenerationOptions.MaxNewTokens"/> (the exception names the option).</exception>
    public static Tensor Generate(IIncrementalLanguageModel model, Tensor prompts, Tensor? promptMask, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        if (prompts.dim() != 2 || prompts.shape[1] < 1 || prompts.dtype != ScalarType.Int64)
            throw new ArgumentException($"prompts must be int64 [B, P] with P >= 1; got {prompts.dtype} [{string.Join(", ", prompts.shape)}].", nameof(prompts));
        if (promptMask is not null && !promptMask.shape.SequenceEqual(prompts.shape))
            throw new ArgumentException($"promptMask must have the prompts' shape [{string.Join(", ", prompts.shape)}]; got [{string.Join(", ", promptMask.shape)}].", nameof(promptMask));
        options.Validate(model.VocabularySize);
        long batch = prompts.shape[0], promptLength = prompts.shape[1], steps = options.MaxNewTokens;
        if (steps > 0 && promptLength + steps - 1 > model.MaxSequenceLength)
            throw new ArgumentOutOfRangeException(nameof(options.MaxNewTokens), steps,
                $"The prompt ({promptLength} positions) and {nameof(options.MaxNewTokens)} - 1 = {steps - 1} must fit the model's context ({model.MaxSequenceLength} positions, MaxSequenceLength).");

        bool wasTraining = model.IsTraining;
        model.SetTraining(false);
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var result = empty(new[] { batch, steps }, ScalarType.Int64, model.Device);
            if (steps == 0) return result.MoveToOuterDisposeScope();
            using var selector = new TokenSelector(options, model.VocabularySize, batch, model.Device);
            using var cache = model.CreateCache(batch, promptLength + steps - 1);
            Tensor lastPosition; // [B, 1]: the position id of each row's last prompt token
            using (var prefill = NewDisposeScope())
            {
                var positions = promptMask is null
                    ? arange(promptLength, ScalarType.Int64, model.Device).unsqueeze(0).expand(batch, promptLength)
                    : PositionIds(promptMask);
                var logits = model.IncrementalLogits(prompts, positions, promptMask, cache).select(1, promptLength - 1);
                result.narrow(1, 0, 1).copy_(selector.Select(logits));
                lastPosition = positions.narrow(1, promptLength - 1, 1).clone().MoveToOuterDisposeScope();
            }
            for (long t = 1; t < steps; t++)
            {
                if (selector.Stops && selector.AllStopped())
                {
                    selector.FillRest(result.narrow(1, t, steps - t)); // every row has stopped
                    break;
                }
                using var step = NewDisposeScope();
                var logits = model.IncrementalLogits(result.narrow(1, t - 1, 1), lastPosition + t, null, cache).select(1, 0);
                result.narrow(1, t, 1).copy_(selector.Select(logits));
            }
            return result.MoveToOuterDisposeScope();
        }
        finally
        {
            model.SetTraining(wasTraining);
        }
    }

    /// <summary>
    /// The sampling filters applied to next-token logits <c>[..., V]</c> before the softmax: divided by the temperature
    /// (when above 0), then all but the <see cref="GenerationOptions.TopK"/> largest set to −∞ (0 or k ≥ V keeps all),
    /// then all outside the nucleus set to −∞: sorted by probability, a token is kept when the probability of the
    /// tokens before it is below <see cref="GenerationOptions.TopP"/> (so the most likely token always stays).
    /// </summary>
    /// <param name="logits">Next-token logits, last dimension the vocabulary.</param>
    /// <param name="options">The filters (not validated here).</param>
    public static Tensor ProcessLogits(Tensor logits, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(options);
        return Filter(logits, options, logits.shape[^1]);
    }

    internal static Tensor Filter(Tensor logits, GenerationOptions options, long vocabularySize)
    {
        if (options.Temperature > 0) logits = logits / options.Temperature;
        int topK = options.TopK >= vocabularySize ? 0 : options.TopK; // k ≥ V keeps every token
        if (topK > 0)
        {
            var kth = logits.topk(topK, dim: -1).values.narrow(-1, topK - 1, 1);
            logits = logits.masked_fill(logits < kth, double.NegativeInfinity);
        }
        if (options.TopP < 1)
        {
            var (sorted, order) = logits.softmax(-1).sort(-1, descending: true);
            var massBefore = sorted.cumsum(-1) - sorted;
            var dropSorted = massBefore.ge(options.TopP);
            var drop = dropSorted.scatter(-1, order, dropSorted);
            logits = logits.masked_fill(drop, double.NegativeInfinity);
        }
        return logits;
    }

    /// <summary>
    /// Position ids for a left-padded batch: the count of real tokens before each position,
    /// <c>cumsum(mask) − 1</c> clamped at 0 (padding gets 0), int64 <c>[B, L]</c>.
    /// </summary>
    /// <param name="attentionMask">Nonzero for real tokens, <c>[B, L]</c> (bool or integer).</param>
    public static Tensor PositionIds(Tensor attentionMask)
    {
        ArgumentNullException.ThrowIfNull(attentionMask);
        using var scope = NewDisposeScope();
        return attentionMask.ne(0).to_type(ScalarType.Int64).cumsum(1).sub(1).clamp_min(0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Left-pads prompts of different lengths into tokens <c>[B, P]</c> (int64, P the longest prompt) and a mask
    /// <c>[B, P]</c> (bool, true for real tokens), ready for <see cref="Generate"/>.
    /// </summary>
    /// <param name="prompts">Token ids, one non-empty list per row.</param>
    /// <param name="padToken">The id written in padded positions (any valid id: the mask hides it).</param>
    /// <param name="device">Where the tensors go; null for the CPU.</param>
    /// <exception cref="ArgumentException">There are no prompts, or one is empty.</exception>
    public static (Tensor Tokens, Tensor Mask) LeftPad(IReadOnlyList<IReadOnlyList<long>> prompts, long padToken = 0, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("At least one prompt is needed.", nameof(prompts));
        int width = 0;
        for (int r = 0; r < prompts.Count; r++)
        {
            if (prompts[r] is null || prompts[r].Count == 0)
                throw new ArgumentException($"Prompt {r} is empty; every prompt needs at least one token.", nameof(prompts));
            width = Math.Max(width, prompts[r].Count);
        }
        var tokens = new long[prompts.Count * width];
        var mask = new bool[prompts.Count * width];
        for (int r = 0; r < prompts.Count; r++)
        {
            int pad = width - prompts[r].Count;
            for (int c = 0; c < width; c++)
            {
                bool real = c >= pad;
                tokens[r * width + c] = real ? prompts[r][c - pad] : padToken;
                mask[r * width + c] = real;
            }
        }
        var shape = new long[] { prompts.Count, width };
        return (tensor(tokens, shape, ScalarType.Int64, device ?? CPU), tensor(mask, shape, ScalarType.Bool, device ?? CPU));
    }
}
