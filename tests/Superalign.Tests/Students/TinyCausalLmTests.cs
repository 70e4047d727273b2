using Superalign.Objectives;
using Superalign.Students;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static Superalign.Tests.Students.StudentTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Students;

public sealed class TinyCausalLmTests
{
    private static readonly TinyCausalLmOptions Small = new(VocabularySize: 11, MaxSequenceLength: 16, ModelDim: 32, Layers: 2, Heads: 4);

    private static TinyCausalLm Create(TinyCausalLmOptions? options = null) => new(options ?? Small, CPU);

    private static Tensor RandomTokens(long rows, long length, long seed, long vocabulary = 11)
    {
        using var g = new Generator((ulong)seed, CPU);
        return randint(0, vocabulary, new[] { rows, length }, generator: g);
    }

    [Fact]
    public void Shapes_follow_the_causal_lm_contract()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var tokens = RandomTokens(3, 9, seed: 1);

        Assert.Equal(new long[] { 3, 9, 11 }, lm.TokenLogits(tokens).shape);
        Assert.Equal(new long[] { 3, 9, 32 }, lm.HiddenStates(tokens).shape);
        var batch = ResponseBatch.ForCausalLm(tokens, ones(3, 9));
        Assert.Equal(new long[] { 3, 8, 11 }, lm.Logits(batch).shape);
        // Position t of Logits(batch) predicts token t + 1: it is TokenLogits at position t.
        TorchAssert.Close(lm.TokenLogits(tokens).narrow(1, 0, 8), lm.Logits(batch), absTol: 1e-5);
    }

    [Fact]
    public void Tokens_must_be_int64_and_fit_the_context()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();

        Assert.Throws<ArgumentException>(() => lm.TokenLogits(RandomTokens(1, 17, seed: 1)));
        Assert.Throws<ArgumentException>(() => lm.TokenLogits(RandomTokens(1, 4, seed: 1).to_type(ScalarType.Int32)));
        Assert.Throws<ArgumentException>(() => lm.TokenLogits(RandomTokens(1, 4, seed: 1).flatten()));
    }

    [Fact]
    public void Logits_depend_only_on_the_past()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var tokens = RandomTokens(2, 12, seed: 2);
        const int t = 5;
        var changed = tokens.clone();
        changed.narrow(1, t + 1, 12 - t - 1).copy_((tokens.narrow(1, t + 1, 12 - t - 1) + 1) % 11);

        var before = lm.TokenLogits(tokens);
        var after = lm.TokenLogits(changed);

        TorchAssert.Close(before.narrow(1, 0, t + 1), after.narrow(1, 0, t + 1), absTol: 1e-6, what: "logits at positions <= t");
        Assert.False(before.narrow(1, t + 1, 1).allclose(after.narrow(1, t + 1, 1), rtol: 0, atol: 1e-4),
            "the changed tokens must change the logits after t (the check above would be vacuous otherwise)");
    }

    [Fact]
    public void The_output_head_is_the_token_embedding()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var tokens = tensor(new long[] { 1, 2, 3, 4, 5, 1, 2 }).unsqueeze(0); // never token 7
        var before = lm.TokenLogits(tokens).detach().clone();

        TorchAssert.Close(before, matmul(lm.HiddenStates(tokens), lm.TokenEmbedding.t()), absTol: 1e-5, what: "h · Wᵀ");
        // No parameter of its own: the only [V, d] parameter is the embedding.
        Assert.Single(lm.Parameters(), p => p.shape.SequenceEqual(new long[] { 11, 32 }));

        using (no_grad()) lm.TokenEmbedding[7].fill_(0);
        var after = lm.TokenLogits(tokens);

        // Token 7 is not in the input, so the hidden states stay; only its output logit changes, and becomes 0.
        Identical(zeros(1, 7), after.select(2, 7), "logit of the zeroed row");
        var others = tensor(new long[] { 0, 1, 2, 3, 4, 5, 6, 8, 9, 10 });
        Identical(before.index_select(2, others), after.index_select(2, others), "other logits");
        Assert.False(BitwiseEqual(before.select(2, 7), after.select(2, 7)));
    }

    [Fact]
    public void Each_block_has_one_fused_qkv_projection()
    {
        using var scope = NewDisposeScope();
        var options = Small with { Layers = 3 };
        using var lm = Create(options);
        int d = options.ModelDim;

        var linears = lm.Module.named_modules().Where(m => m.module is Linear).Select(m => (m.name, layer: (Linear)m.module)).ToList();
        var fused = linears.Where(l => l.layer.in_features == d && l.layer.out_features == 3 * d).ToList();
        Assert.Equal(3, fused.Count);
        Assert.Equal(3, fused.Select(l => l.name.Split('.')[1]).Distinct().Count()); // one per block
        Assert.Equal(3 * 4, linears.Count); // qkv, attention output, MLP in, MLP out: no separate q, k, v or head
        Assert.DoesNotContain(linears, l => l.layer.out_features == d && l.layer.in_features == d && l.name.Contains("q"));

        // Every parameter accounted for: embeddings, blocks (LN, QKV, proj, LN, d→4d, 4d→d), final LN; no head.
        long v = options.VocabularySize, lmax = options.MaxSequenceLength;
        long perBlock = 2 * d + (3L * d * d + 3 * d) + (d * d + d) + 2 * d + (4L * d * d + 4 * d) + (4L * d * d + d);
        Assert.Equal(v * d + lmax * d + 3 * perBlock + 2 * d, lm.ParameterCount);
    }

    [Fact]
    public void Sequence_log_prob_matches_an_independent_computation_and_ignores_prompt_and_padding()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var tokens = RandomTokens(3, 10, seed: 3);
        // Row r: prompt of 2 + r tokens, then 4 response tokens, then padding.
        var mask = zeros(3, 10);
        for (int r = 0; r < 3; r++) mask[r].narrow(0, 2 + r, 4).fill_(1);

        var logProb = LogProbs.Sequence(lm, ResponseBatch.ForCausalLm(tokens, mask));

        var logSoftmax = lm.TokenLogits(tokens).to_type(ScalarType.Float64).log_softmax(-1);
        var lsm = logSoftmax.data<double>().ToArray();
        var ids = tokens.data<long>().ToArray();
        var m = mask.data<float>().ToArray();
        for (int r = 0; r < 3; r++)
        {
            double expected = 0, withPrompt = 0;
            for (int t = 1; t < 10; t++)
            {
                double term = lsm[(r * 10 + (t - 1)) * 11 + ids[r * 10 + t]]; // position t - 1 predicts token t
                if (m[r * 10 + t] == 1) expected += term;
                withPrompt += term;
            }
            TorchAssert.Close(expected, logProb[r].item<float>(), absTol: 1e-4, what: $"row {r}");
            Assert.True(Math.Abs(withPrompt - expected) > 1e-2, "prompt and padding terms must matter if counted");
        }

        // Padding after the response cannot change the response's log-prob.
        var repadded = tokens.clone();
        repadded[0].narrow(0, 6, 4).copy_((tokens[0].narrow(0, 6, 4) + 3) % 11);
        TorchAssert.Close(logProb, LogProbs.Sequence(lm, ResponseBatch.ForCausalLm(repadded, mask)), absTol: 1e-5, what: "repadded");
    }

    [Fact]
    public void Seed_determines_the_initial_weights()
    {
        using var scope = NewDisposeScope();
        using var a = Create(Small with { Seed = 5 });
        using var b = Create(Small with { Seed = 5 });
        using var c = Create(Small with { Seed = 6 });

        SameParameters(a, b);
        Assert.True(AnyParameterDiffers(a, c));
    }

    [Fact]
    public void Save_then_load_into_a_fresh_instance_gives_identical_logits()
    {
        using var scope = NewDisposeScope();
        using var file = new TempFile();
        using var lm = Create();
        var tokens = RandomTokens(2, 8, seed: 4);
        var batch = ResponseBatch.ForCausalLm(tokens, ones(2, 8));
        using (var adam = optim.Adam(lm.Parameters(), lr: 0.01))
            for (int i = 0; i < 3; i++) Step(adam, () => Nll(lm, batch));

        lm.Save(file.Path);
        using var fresh = Create(Small with { Seed = 42 });
        Assert.False(BitwiseEqual(lm.TokenLogits(tokens), fresh.TokenLogits(tokens)));
        fresh.Load(file.Path);

        Identical(lm.TokenLogits(tokens), fresh.TokenLogits(tokens), "logits after load");
    }

    [Fact]
    public void Clone_is_identical_and_independent()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var tokens = RandomTokens(2, 8, seed: 5);
        var before = lm.TokenLogits(tokens).detach().clone();

        using var clone = (TinyCausalLm)lm.Clone();
        Identical(before, clone.TokenLogits(tokens), "clone logits");
        using var adam = optim.Adam(clone.Parameters(), lr: 0.01);
        for (int i = 0; i < 3; i++) Step(adam, () => Nll(clone, ResponseBatch.ForCausalLm(tokens, ones(2, 8))));

        Identical(before, lm.TokenLogits(tokens), "original after training the clone");
        Assert.False(BitwiseEqual(before, clone.TokenLogits(tokens)));
        // The clone's head is tied to the clone's own embedding.
        using (no_grad()) clone.TokenEmbedding.zero_();
        Identical(before, lm.TokenLogits(tokens), "original after zeroing the clone's embedding");
    }

    [Fact]
    public void Overfits_a_tiny_sequence_and_greedy_generation_reproduces_it()
    {
        using var scope = NewDisposeScope();
        using var lm = Create(Small with { Seed = 1 });
        // Repeated tokens (1, 5, 3) make the next token depend on more than the current one.
        var sequence = tensor(new long[] { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3 }).unsqueeze(0);
        var batch = ResponseBatch.ForCausalLm(sequence, ones(1, 16));
        using var adam = optim.Adam(lm.Parameters(), lr: 0.01);

        double first = Step(adam, () => Nll(lm, batch)), last = first;
        for (int i = 0; i < 150; i++) last = Step(adam, () => Nll(lm, batch));

        Assert.True(last < 0.05 * first, $"summed NLL {first:F3} → {last:F3}");
        var generated = lm.Generate(sequence.narrow(1, 0, 1), new GenerationOptions(MaxNewTokens: 15, Temperature: 0));
        Assert.Equal(sequence.narrow(1, 1, 15).data<long>().ToArray(), generated.data<long>().ToArray());
    }

    [Fact]
    public void Seeded_sampling_is_reproducible_and_seeds_matter()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var prompts = RandomTokens(4, 3, seed: 6);
        var options = new GenerationOptions(MaxNewTokens: 12, Temperature: 1.0, Seed: 17);

        var a = lm.Generate(prompts, options);
        var b = lm.Generate(prompts, options);
        var c = lm.Generate(prompts, options with { Seed = 18 });

        Assert.Equal(new long[] { 4, 12 }, a.shape);
        Identical(a, b, "same seed");
        Assert.False(BitwiseEqual(a, c), "another seed gave the same 48 samples");
    }

    [Fact]
    public void Top_k_one_equals_greedy_and_top_k_restricts_the_samples()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var prompts = RandomTokens(3, 2, seed: 7);

        var greedy = lm.Generate(prompts, new GenerationOptions(MaxNewTokens: 8, Temperature: 0));
        var topOne = lm.Generate(prompts, new GenerationOptions(MaxNewTokens: 8, Temperature: 2.0, TopK: 1, Seed: 3));
        Identical(greedy, topOne, "top-k 1 vs greedy");

        // With top-k 2 at a high temperature every sampled token is among the two most likely next tokens.
        var sampled = lm.Generate(prompts, new GenerationOptions(MaxNewTokens: 8, Temperature: 5.0, TopK: 2, Seed: 4));
        var full = cat(new[] { prompts, sampled }, 1);
        var top2 = lm.TokenLogits(full).narrow(1, 1, 8).topk(2, dim: -1).indexes; // positions predicting the samples
        Assert.True(top2.eq(sampled.unsqueeze(-1)).any(-1).all().item<bool>(), "a sample outside the top 2");
        Assert.False(BitwiseEqual(sampled, greedy), "top-2 sampling at temperature 5 never left the greedy path");
    }

    [Fact]
    public void Rows_that_emit_the_stop_token_keep_emitting_it()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var prompts = RandomTokens(4, 3, seed: 8);
        var free = lm.Generate(prompts, new GenerationOptions(MaxNewTokens: 10, Temperature: 0)).data<long>().ToArray();
        long stop = free[2]; // row 0 stops at its third token

        var stopped = lm.Generate(prompts, new GenerationOptions(MaxNewTokens: 10, Temperature: 0, StopToken: stop)).data<long>().ToArray();

        bool anyTruncated = false;
        for (int r = 0; r < 4; r++)
        {
            int at = Array.IndexOf(free, stop, r * 10, 10);
            for (int t = 0; t < 10; t++)
            {
                long expected = at >= 0 && r * 10 + t > at ? stop : free[r * 10 + t];
                Assert.Equal(expected, stopped[r * 10 + t]);
                anyTruncated |= expected != free[r * 10 + t];
            }
        }
        Assert.True(anyTruncated || free.Skip(3).Take(7).All(x => x == stop), "the stop token changed nothing");

        // A single row that stops ends generation early, padded with the stop token.
        var single = lm.Generate(prompts.narrow(0, 0, 1), new GenerationOptions(MaxNewTokens: 10, Temperature: 0, StopToken: stop));
        Assert.Equal(stopped.Take(10).ToArray(), single.data<long>().ToArray());
    }

    [Fact]
    public void Generation_crops_the_context_to_the_maximum_length()
    {
        using var scope = NewDisposeScope();
        using var lm = Create(Small with { MaxSequenceLength = 6 });
        var prompts = RandomTokens(2, 5, seed: 9);

        var generated = lm.Generate(prompts, new GenerationOptions(MaxNewTokens: 7, Temperature: 0));

        Assert.Equal(new long[] { 2, 7 }, generated.shape);
        var full = cat(new[] { prompts, generated }, 1);
        for (int t = 0; t < 7; t++)
        {
            long end = 5 + t, start = Math.Max(0, end - 6);
            var expected = lm.TokenLogits(full.narrow(1, start, end - start)).select(1, -1).argmax(-1);
            Identical(expected, generated.select(1, t), $"step {t}");
        }
    }

    [Fact]
    public void Generation_runs_in_eval_mode_and_restores_the_training_mode()
    {
        using var scope = NewDisposeScope();
        using var lm = Create(Small with { Dropout = 0.5 });
        var prompts = RandomTokens(2, 3, seed: 10);

        lm.SetTraining(true);
        var a = lm.Generate(prompts, new GenerationOptions(MaxNewTokens: 6, Temperature: 0));
        Assert.True(lm.Module.training);
        var b = lm.Generate(prompts, new GenerationOptions(MaxNewTokens: 6, Temperature: 0));
        Identical(a, b, "greedy generations with dropout 0.5 in training mode");

        lm.SetTraining(false);
        lm.Generate(prompts, new GenerationOptions(MaxNewTokens: 2, Temperature: 0));
        Assert.False(lm.Module.training);
    }

    [Fact]
    public void Generation_leaves_only_its_result_alive()
    {
        using var lm = Create();
        using var prompts = RandomTokens(2, 3, seed: 11);
        var options = new GenerationOptions(MaxNewTokens: 6, Temperature: 0.8, TopK: 3, StopToken: 2, Seed: 1);
        lm.Generate(prompts, options).Dispose(); // warm-up

        long before = LiveTensors;
        using var generated = lm.Generate(prompts, options);

        Assert.Equal(before + 1, LiveTensors);
    }

    [Fact]
    public void A_training_step_leaves_no_live_tensors()
    {
        using var scope = NewDisposeScope();
        using var lm = Create(Small with { Dropout = 0.1 });
        var batch = ResponseBatch.ForCausalLm(RandomTokens(2, 8, seed: 12), ones(2, 8));
        using var adam = optim.Adam(lm.Parameters(), lr: 0.01);
        Step(adam, () => Nll(lm, batch));

        long before = LiveTensors;
        for (int i = 0; i < 3; i++) Step(adam, () => Nll(lm, batch));

        Assert.Equal(before, LiveTensors);
    }

    [Fact]
    public void A_model_built_inside_a_dispose_scope_outlives_it()
    {
        TinyCausalLm lm;
        using (var inner = NewDisposeScope()) lm = Create();
        using (lm)
        {
            using var scope = NewDisposeScope();
            Assert.Equal(new long[] { 1, 4, 11 }, lm.TokenLogits(RandomTokens(1, 4, seed: 13)).shape);
        }
    }

    public static TheoryData<string, TinyCausalLmOptions> InvalidOptions() => new()
    {
        { nameof(TinyCausalLmOptions.VocabularySize), Small with { VocabularySize = 1 } },
        { nameof(TinyCausalLmOptions.MaxSequenceLength), Small with { MaxSequenceLength = 0 } },
        { nameof(TinyCausalLmOptions.ModelDim), Small with { ModelDim = 0, Heads = 1 } },
        { nameof(TinyCausalLmOptions.ModelDim), Small with { ModelDim = 30, Heads = 4 } },
        { nameof(TinyCausalLmOptions.Layers), Small with { Layers = 0 } },
        { nameof(TinyCausalLmOptions.Heads), Small with { Heads = 0 } },
        { nameof(TinyCausalLmOptions.Heads), Small with { Heads = 64 } },
        { nameof(TinyCausalLmOptions.Dropout), Small with { Dropout = 1 } },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_throw_naming_the_option(string option, TinyCausalLmOptions options) =>
        ThrowsNaming(option, () => new TinyCausalLm(options, CPU));

    [Fact]
    public void Invalid_generation_options_throw_naming_the_option()
    {
        using var scope = NewDisposeScope();
        using var lm = Create();
        var prompts = RandomTokens(1, 2, seed: 14);

        ThrowsNaming(nameof(GenerationOptions.MaxNewTokens), () => lm.Generate(prompts, new GenerationOptions(MaxNewTokens: -1)));
        ThrowsNaming(nameof(GenerationOptions.Temperature), () => lm.Generate(prompts, new GenerationOptions(Temperature: -0.5)));
        ThrowsNaming(nameof(GenerationOptions.TopK), () => lm.Generate(prompts, new GenerationOptions(TopK: -1)));
        ThrowsNaming(nameof(GenerationOptions.StopToken), () => lm.Generate(prompts, new GenerationOptions(StopToken: 11)));
        Assert.Throws<ArgumentException>(() => lm.Generate(prompts.to_type(ScalarType.Int32), new GenerationOptions()));
    }
}
