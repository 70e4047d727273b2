using FsCheck;
using FsCheck.Fluent;
using Superalign.Students;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static Superalign.Tests.Students.StudentTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Students;

/// <summary>
/// KV-cache decoding of <see cref="TinyCausalLm"/> through <see cref="LanguageModelGeneration"/>, checked against an
/// independent cache-free loop that reads the whole sequence with <see cref="TinyCausalLm.TokenLogits"/> each step.
/// </summary>
public sealed class TinyCausalLmCacheTests
{
    private static readonly TinyCausalLmOptions Small = new(VocabularySize: 11, MaxSequenceLength: 16, ModelDim: 32, Layers: 2, Heads: 4, Seed: 3);

    private static TinyCausalLm Create(TinyCausalLmOptions? options = null) => new(options ?? Small, CPU);

    private static Tensor RandomTokens(long rows, long length, long seed, long vocabulary = 11)
    {
        using var g = new Generator((ulong)seed, CPU);
        return randint(0, vocabulary, new[] { rows, length }, generator: g);
    }

    /// <summary>
    /// The reference: no cache, no shared code with the library's sampler. Each step reads the full sequence, filters
    /// the last position's logits on the CPU (temperature, the k largest, then the nucleus of the renormalised rest) and
    /// draws with multinomial from a generator seeded like the library's.
    /// </summary>
    private static long[,] Reference(TinyCausalLm lm, Tensor prompts, GenerationOptions o)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        bool wasTraining = lm.IsTraining;
        lm.SetTraining(false);
        try
        {
            long rows = prompts.shape[0];
            int vocabulary = lm.VocabularySize;
            bool greedy = o.Temperature == 0 || o.TopK == 1;
            using var generator = o.Seed is { } seed && !greedy ? new Generator((ulong)seed, CPU) : null;
            var stops = new HashSet<long>(o.StopTokens ?? []);
            if (o.StopToken >= 0) stops.Add(o.StopToken);
            var stoppedWith = new long?[rows];
            var result = new long[rows, o.MaxNewTokens];
            var sequence = prompts.clone();
            for (int t = 0; t < o.MaxNewTokens; t++)
            {
                var logits = lm.TokenLogits(sequence).select(1, -1); // [B, V]
                long[] next;
                if (greedy)
                {
                    next = logits.argmax(-1).data<long>().ToArray();
                }
                else
                {
                    logits = logits / o.Temperature;
                    var keep = new bool[rows * vocabulary];
                    for (int r = 0; r < rows; r++)
                    {
                        var row = logits[r].data<float>().ToArray();
                        var order = Enumerable.Range(0, vocabulary).OrderByDescending(i => row[i]).ToArray();
                        int k = o.TopK == 0 ? vocabulary : Math.Min(o.TopK, vocabulary);
                        var kept = order.Take(k).ToArray();
                        double max = row[kept[0]], total = kept.Sum(i => Math.Exp(row[i] - max)), before = 0;
                        foreach (var i in kept)
                        {
                            if (before >= o.TopP) break;
                            keep[r * vocabulary + i] = true;
                            before += Math.Exp(row[i] - max) / total;
                        }
                    }
                    var keepMask = tensor(keep, new long[] { rows, vocabulary });
                    next = logits.masked_fill(keepMask.logical_not(), double.NegativeInfinity).softmax(-1)
                        .multinomial(1, replacement: false, generator: generator).flatten().data<long>().ToArray();
                }
                for (int r = 0; r < rows; r++)
                {
                    if (stoppedWith[r] is { } s) next[r] = s;
                    else if (stops.Contains(next[r])) stoppedWith[r] = next[r];
                    result[r, t] = next[r];
                }
                sequence = cat(new[] { sequence, tensor(next).unsqueeze(1) }, 1);
            }
            return result;
        }
        finally
        {
            lm.SetTraining(wasTraining);
        }
    }

    private static long[,] ToArray(Tensor generated)
    {
        long rows = generated.shape[0], cols = generated.shape[1];
        var data = generated.data<long>().ToArray();
        var result = new long[rows, cols];
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++)
                result[r, c] = data[r * cols + c];
        return result;
    }

    private static readonly Dictionary<string, GenerationOptions> DecodingCases = new()
    {
        ["greedy"] = new GenerationOptions(12, Temperature: 0),
        ["temperature 1"] = new GenerationOptions(12, 1.0, Seed: 5),
        ["temperature 0.6"] = new GenerationOptions(12, 0.6, Seed: 6),
        ["temperature 1.2, top-k 3"] = new GenerationOptions(12, 1.2, TopK: 3, Seed: 7),
        ["top-p 0.8"] = new GenerationOptions(12, 1.0, Seed: 8, TopP: 0.8),
        ["temperature 1.5, top-k 5, top-p 0.9"] = new GenerationOptions(12, 1.5, TopK: 5, Seed: 9, TopP: 0.9),
        ["top-p 0.5 at temperature 3"] = new GenerationOptions(12, 3.0, Seed: 10, TopP: 0.5),
        ["sampled, stop token"] = new GenerationOptions(12, 1.0, StopToken: 2, Seed: 11),
        ["greedy, stop tokens"] = new GenerationOptions(12, 0, StopTokens: [1, 2, 3]),
        ["sampled, stop token and stop tokens"] = new GenerationOptions(12, 1.5, StopToken: 4, Seed: 12, StopTokens: [6, 4]),
    };

    public static TheoryData<string> Decodings() => new(DecodingCases.Keys);

    [Theory]
    [MemberData(nameof(Decodings))]
    public void Cached_generation_equals_the_cache_free_loop_token_for_token(string decoding)
    {
        var options = DecodingCases[decoding];
        using var scope = NewDisposeScope();
        using var lm = Create();
        var prompts = RandomTokens(6, 3, seed: 21); // 3 + 12 - 1 <= 16: the cache path

        var expected = Reference(lm, prompts, options);

        Assert.Equal(expected, ToArray(LanguageModelGeneration.Generate(lm, prompts, null, options)));
        Assert.Equal(expected, ToArray(lm.Generate(prompts, options)));
    }

    [Fact]
    public void A_prompt_that_fills_the_context_exactly_still_matches()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var prompts = RandomTokens(3, 5, seed: 22);
        var options = new GenerationOptions(12, 0.9, TopK: 6, Seed: 13, TopP: 0.95); // 5 + 12 - 1 = 16

        Assert.Equal(Reference(lm, prompts, options), ToArray(LanguageModelGeneration.Generate(lm, prompts, null, options)));
    }

    [Fact]
    public void Left_padded_prompts_of_different_lengths_decode_as_each_row_alone()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var lengths = new[] { 1, 4, 2, 7, 3 };
        var prompts = lengths.Select((n, i) => (IReadOnlyList<long>)RandomTokens(1, n, seed: 30 + i).data<long>().ToArray()).ToList();
        var (tokens, mask) = LanguageModelGeneration.LeftPad(prompts, padToken: 7);
        Assert.Equal(new long[] { 5, 7 }, tokens.shape);
        Assert.Equal(lengths.Select(n => (long)n).ToArray(), mask.sum(1).data<long>().ToArray());

        foreach (var options in new[] { new GenerationOptions(9, 0), new GenerationOptions(9, 0, StopTokens: [0, 5]) })
        {
            var batched = LanguageModelGeneration.Generate(lm, tokens, mask, options);
            for (int r = 0; r < prompts.Count; r++)
            {
                var alone = lm.Generate(tensor(prompts[r].ToArray()).unsqueeze(0), options);
                Identical(alone.squeeze(0), batched[r], $"row {r} (prompt length {lengths[r]})");
            }
            // The pad token's value is hidden by the mask.
            var (otherPad, _) = LanguageModelGeneration.LeftPad(prompts, padToken: 2);
            Identical(batched, LanguageModelGeneration.Generate(lm, otherPad, mask, options), "pad 7 vs pad 2");
        }
    }

    [Fact]
    public void Incremental_logits_of_any_chunking_equal_the_full_forward()
    {
        using var lm = Create();
        var cases = (from seed in Gen.Choose(0, 100_000)
                     from length in Gen.Choose(1, 16)
                     from pad in Gen.Choose(0, length - 1)
                     from cuts in Gen.Choose(1, 15).ListOf()
                     select (Seed: seed, Length: length, Pad: pad, Cuts: cuts.ToArray())).ToArbitrary();
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(40), Prop.ForAll(cases, c =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            lm.SetTraining(false);
            // Row 0 is all real; row 1 starts with Pad padded positions.
            var tokens = RandomTokens(2, c.Length, c.Seed);
            var mask = ones(2, c.Length, ScalarType.Bool);
            mask[1].narrow(0, 0, c.Pad).fill_(false);
            var positions = LanguageModelGeneration.PositionIds(mask);
            var bounds = c.Cuts.Where(x => x < c.Length).Append(0).Append(c.Length).Distinct().Order().ToArray();

            using var cache = lm.CreateCache(2, c.Length);
            var chunks = new List<Tensor>();
            for (int i = 0; i + 1 < bounds.Length; i++)
            {
                int start = bounds[i], size = bounds[i + 1] - bounds[i];
                chunks.Add(lm.IncrementalLogits(tokens.narrow(1, start, size), positions.narrow(1, start, size), mask.narrow(1, start, size), cache));
            }
            var incremental = cat(chunks, 1);

            TorchAssert.Close(lm.TokenLogits(tokens.narrow(0, 0, 1)), incremental.narrow(0, 0, 1), absTol: 1e-5, what: "unpadded row");
            long real = c.Length - c.Pad;
            TorchAssert.Close(lm.TokenLogits(tokens.narrow(0, 1, 1).narrow(1, c.Pad, real)), incremental.narrow(0, 1, 1).narrow(1, c.Pad, real),
                absTol: 1e-5, what: $"padded row (pad {c.Pad}, cuts {string.Join(",", bounds)})");
        }));
    }

    private static int[] Kept(Tensor logits, GenerationOptions options)
    {
        using var scope = NewDisposeScope();
        var filtered = LanguageModelGeneration.ProcessLogits(logits, options);
        return filtered.isfinite().squeeze(0).data<bool>().ToArray().Select((k, i) => (k, i)).Where(x => x.k).Select(x => x.i).ToArray();
    }

    [Fact]
    public void Top_p_keeps_the_smallest_most_likely_set_reaching_the_mass()
    {
        using var scope = NewDisposeScope();
        // p = (0.15, 0.5, 0.05, 0.3): by probability tokens 1, 3, 0, 2 with mass before them 0, 0.5, 0.8, 0.95.
        var logits = tensor(new[] { 0.15f, 0.5f, 0.05f, 0.3f }).log().unsqueeze(0);

        Assert.Equal(new[] { 1 }, Kept(logits, new GenerationOptions(TopP: 0.4)));
        Assert.Equal(new[] { 1, 3 }, Kept(logits, new GenerationOptions(TopP: 0.75)));
        Assert.Equal(new[] { 0, 1, 3 }, Kept(logits, new GenerationOptions(TopP: 0.85)));
        Assert.Equal(new[] { 0, 1, 2, 3 }, Kept(logits, new GenerationOptions(TopP: 0.99)));
        Assert.Equal(new[] { 0, 1, 2, 3 }, Kept(logits, new GenerationOptions(TopP: 1.0)));
        // Top-k first, then top-p on the renormalised rest: top-2 leaves (0.625, 0.375) for tokens 1 and 3.
        Assert.Equal(new[] { 1 }, Kept(logits, new GenerationOptions(TopK: 2, TopP: 0.6)));
        Assert.Equal(new[] { 1, 3 }, Kept(logits, new GenerationOptions(TopK: 2, TopP: 0.7)));
        // Temperature first: at T = 2 the probabilities ∝ √p are (0.207, 0.379, 0.120, 0.294), mass before 0, 0.379, 0.673, 0.880.
        Assert.Equal(new[] { 0, 1, 3 }, Kept(logits, new GenerationOptions(Temperature: 2, TopP: 0.75)));
        // Kept logits are the tempered logits, unchanged.
        var filtered = LanguageModelGeneration.ProcessLogits(logits, new GenerationOptions(Temperature: 2, TopP: 0.75));
        TorchAssert.Close((logits / 2).index_select(1, tensor(new long[] { 0, 1, 3 })), filtered.index_select(1, tensor(new long[] { 0, 1, 3 })), absTol: 0);
    }

    [Fact]
    public void Top_p_samples_stay_in_the_nucleus()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var prompts = RandomTokens(4, 2, seed: 23);
        var options = new GenerationOptions(10, 4.0, Seed: 14, TopP: 0.3);

        var sampled = lm.Generate(prompts, options);
        var full = cat(new[] { prompts, sampled }, 1);
        using (no_grad())
        {
            var logits = lm.TokenLogits(full).narrow(1, 1, 10); // the positions predicting the samples
            var allowed = LanguageModelGeneration.ProcessLogits(logits, options).isfinite();
            Assert.True(allowed.gather(-1, sampled.unsqueeze(-1)).all().item<bool>(), "a sample outside the nucleus");
            Assert.True(allowed.sum(-1).gt(1).any().item<bool>(), "the nucleus never held more than one token");
        }
    }

    [Fact]
    public void Any_of_the_stop_tokens_stops_a_row_which_then_repeats_its_token()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var prompts = RandomTokens(4, 3, seed: 24);
        var free = ToArray(lm.Generate(prompts, new GenerationOptions(10, 0)));
        var stops = new[] { free[0, 2], free[1, 4] };

        var stopped = ToArray(lm.Generate(prompts, new GenerationOptions(10, 0, StopTokens: stops)));

        for (int r = 0; r < 4; r++)
        {
            long? emitted = null;
            for (int t = 0; t < 10; t++)
            {
                Assert.Equal(emitted ?? free[r, t], stopped[r, t]);
                if (emitted is null && stops.Contains(free[r, t])) emitted = free[r, t];
            }
        }
        // StopToken and StopTokens together act as one set; a lone row that stops ends early, padded with its token.
        var both = lm.Generate(prompts, new GenerationOptions(10, 0, StopToken: stops[0], StopTokens: [stops[1]]));
        Assert.Equal(stopped, ToArray(both));
        var single = lm.Generate(prompts.narrow(0, 1, 1), new GenerationOptions(10, 0, StopTokens: stops));
        Assert.Equal(Enumerable.Range(0, 10).Select(t => stopped[1, t]).ToArray(), single.data<long>().ToArray());
    }

    [Fact]
    public void Invalid_options_and_inputs_throw_naming_what_is_wrong()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var prompts = RandomTokens(1, 5, seed: 25);

        foreach (var p in new[] { 0, -0.1, 1.5, double.NaN })
            ThrowsNaming(nameof(GenerationOptions.TopP), () => lm.Generate(prompts, new GenerationOptions(TopP: p)));
        ThrowsNaming(nameof(GenerationOptions.StopTokens), () => lm.Generate(prompts, new GenerationOptions(StopTokens: [3, 11])));
        ThrowsNaming(nameof(GenerationOptions.StopTokens), () => lm.Generate(prompts, new GenerationOptions(StopTokens: [-1])));
        ThrowsNaming(nameof(GenerationOptions.Temperature), () => LanguageModelGeneration.Generate(lm, prompts, null, new GenerationOptions(Temperature: double.PositiveInfinity)));
        // 5 + 13 - 1 > 16: the cache cannot hold it (TinyCausalLm.Generate slides its window instead).
        ThrowsNaming(nameof(GenerationOptions.MaxNewTokens), () => LanguageModelGeneration.Generate(lm, prompts, null, new GenerationOptions(13, 0)));
        Assert.Equal(new long[] { 1, 13 }, lm.Generate(prompts, new GenerationOptions(13, 0)).shape);
        ThrowsNaming("capacity", () => lm.CreateCache(1, 17));
        Assert.Equal("promptMask", Assert.Throws<ArgumentException>(() => LanguageModelGeneration.Generate(lm, prompts, ones(1, 4), new GenerationOptions(2, 0))).ParamName);
        Assert.Throws<ArgumentException>(() => LanguageModelGeneration.LeftPad([]));
        Assert.Throws<ArgumentException>(() => LanguageModelGeneration.LeftPad([new long[] { 1 }, Array.Empty<long>()]));
        using var cache = lm.CreateCache(2, 4);
        Assert.Equal("cache", Assert.Throws<ArgumentException>(() => lm.IncrementalLogits(prompts.narrow(1, 0, 2), zeros(1, 2, ScalarType.Int64), null, cache)).ParamName);
    }

    [Fact]
    public void No_new_tokens_gives_an_empty_result()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var (tokens, mask) = LanguageModelGeneration.LeftPad([new long[] { 1, 2 }, new long[] { 3 }]);
        Assert.Equal(new long[] { 2, 0 }, LanguageModelGeneration.Generate(lm, tokens, mask, new GenerationOptions(0)).shape);
    }

    [Fact]
    public void Cached_generation_leaves_only_its_result_and_restores_the_training_mode()
    {
        using var lm = Create(Small with { Dropout = 0.5 });
        using var outer = NewDisposeScope();
        var (tokens, mask) = LanguageModelGeneration.LeftPad([new long[] { 1, 2, 3 }, new long[] { 4 }]);
        var options = new GenerationOptions(6, 0.8, TopK: 4, StopToken: 2, Seed: 1, TopP: 0.9);
        lm.SetTraining(true);
        LanguageModelGeneration.Generate(lm, tokens, mask, options).Dispose(); // warm-up
        var greedy = LanguageModelGeneration.Generate(lm, tokens, mask, new GenerationOptions(6, 0));

        long before = LiveTensors;
        using (var generated = LanguageModelGeneration.Generate(lm, tokens, mask, options))
            Assert.Equal(before + 1, LiveTensors);
        Assert.True(lm.IsTraining);
        // Dropout is off while decoding: greedy decoding in training mode is repeatable.
        Identical(greedy, LanguageModelGeneration.Generate(lm, tokens, mask, new GenerationOptions(6, 0)), "greedy with dropout 0.5 in training mode");
    }
}
