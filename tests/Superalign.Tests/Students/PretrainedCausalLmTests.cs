using System.Text.Json.Nodes;
using Superalign.Checkpoints;
using Superalign.Students;
using Superalign.Students.Pretrained;
using Superalign.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Students;

/// <summary>
/// The pretrained students against checkpoints and logits written by an independent plain-PyTorch implementation
/// (tests/fixtures-src/make_lm_fixtures.py): GPT-2 (prefixed keys, bare keys with legacy buffers, bf16), Llama (GQA,
/// tied with biases and head_dim), Qwen2 and a sharded Llama.
/// </summary>
public sealed class PretrainedCausalLmTests
{
    public static readonly TheoryData<string> Fixtures = new() { "gpt2", "gpt2-bare-legacy", "gpt2-bf16", "llama-gqa", "llama-tied-bias", "qwen2", "llama-sharded" };

    private static string FixtureDir(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "LanguageModels", name);

    private static (Tensor Tokens, Tensor Logits) Expected(string name)
    {
        var expected = Safetensors.Load(Path.Combine(FixtureDir(name), "expected.safetensors"));
        return (expected["tokens"], expected["logits"]);
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    private static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "superalign-pretrained-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string CopyFixture(string name)
    {
        string dir = TempDir();
        foreach (var file in Directory.GetFiles(FixtureDir(name))) File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        return dir;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Token_logits_match_the_independent_implementation(string name)
    {
        using var scope = NewDisposeScope();
        using var lm = PretrainedCausalLm.FromPretrained(FixtureDir(name), CPU);
        var (tokens, expected) = Expected(name);
        TorchAssert.Close(expected, lm.TokenLogits(tokens), absTol: 1e-4, what: name);
        var batch = ResponseBatch.ForCausalLm(tokens, ones(tokens.shape));
        TorchAssert.Close(expected.narrow(1, 0, tokens.shape[1] - 1), lm.Logits(batch), absTol: 1e-4, what: name);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Cached_decoding_token_by_token_matches(string name)
    {
        using var scope = NewDisposeScope();
        using var lm = PretrainedCausalLm.FromPretrained(FixtureDir(name), CPU);
        var (tokens, expected) = Expected(name);
        long b = tokens.shape[0], l = tokens.shape[1];
        using var cache = lm.CreateCache(b, l);
        var steps = new List<Tensor>();
        for (long t = 0; t < l; t++)
            steps.Add(lm.IncrementalLogits(tokens.narrow(1, t, 1), full(new[] { b, 1L }, t, ScalarType.Int64), null, cache));
        TorchAssert.Close(expected, cat(steps, 1), absTol: 1e-4, what: name);
        Assert.Equal(l, cache.Length);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Prefill_with_left_padding_then_decoding_matches(string name)
    {
        using var scope = NewDisposeScope();
        using var lm = PretrainedCausalLm.FromPretrained(FixtureDir(name), CPU);
        var (tokens, expected) = Expected(name);
        long l = tokens.shape[1];
        const long pad = 4, prefill = 7;
        // Row 0 as it is; row 1's first l - pad tokens behind pad pad positions (id 0, masked out).
        var row1 = cat(new[] { zeros(new[] { 1, pad }, ScalarType.Int64), tokens.narrow(0, 1, 1).narrow(1, 0, l - pad) }, 1);
        var input = cat(new[] { tokens.narrow(0, 0, 1), row1 }, 0);
        var mask = ones(new[] { 2, l }, ScalarType.Int64);
        mask[1, TensorIndex.Slice(0, pad)] = tensor(0L);
        var positions = mask.cumsum(1) - 1;
        using var cache = lm.CreateCache(2, l);
        var parts = new List<Tensor> { lm.IncrementalLogits(input.narrow(1, 0, prefill), positions.narrow(1, 0, prefill), mask.narrow(1, 0, prefill), cache) };
        for (long t = prefill; t < l; t++)
            parts.Add(lm.IncrementalLogits(input.narrow(1, t, 1), positions.narrow(1, t, 1), mask.narrow(1, t, 1), cache));
        var logits = cat(parts, 1);
        TorchAssert.Close(expected.narrow(0, 0, 1), logits.narrow(0, 0, 1), absTol: 1e-4, what: name + " row 0");
        TorchAssert.Close(expected.narrow(0, 1, 1).narrow(1, 0, l - pad), logits.narrow(0, 1, 1).narrow(1, pad, l - pad), absTol: 1e-4, what: name + " padded row");
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama-gqa")]
    [InlineData("qwen2")]
    public void Parameter_names_are_the_checkpoint_keys(string name)
    {
        using var lm = PretrainedCausalLm.FromPretrained(FixtureDir(name), CPU);
        var (_, header) = Safetensors.ReadHeader(Path.Combine(FixtureDir(name), Safetensors.ModelFile));
        Assert.Equal(header.Keys.Order(StringComparer.Ordinal), lm.Module.state_dict().Keys.Order(StringComparer.Ordinal));
        foreach (var (key, t) in lm.Module.state_dict()) Assert.Equal(header[key].Shape, t.shape);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void SaveHuggingFace_then_Load_is_bit_exact_in_the_same_layout(string name)
    {
        using var scope = NewDisposeScope();
        using var lm = PretrainedCausalLm.FromPretrained(FixtureDir(name), CPU);
        string dir = TempDir();
        lm.SaveHuggingFace(dir);
        var (metadata, saved) = Safetensors.ReadHeader(Path.Combine(dir, Safetensors.ModelFile));
        Assert.Equal("pt", metadata["format"]);
        Assert.All(saved.Values, v => Assert.Equal("F32", v.Dtype));
        // Keys and shapes are the original's (bare GPT-2 keys come back prefixed, legacy buffers dropped).
        var original = Safetensors.LoadDirectory(FixtureDir(name));
        var expectedKeys = original.Where(kv => !kv.Key.EndsWith(".attn.bias", StringComparison.Ordinal) && !kv.Key.EndsWith(".attn.masked_bias", StringComparison.Ordinal))
            .ToDictionary(kv => name.StartsWith("gpt2", StringComparison.Ordinal) && !kv.Key.StartsWith("transformer.", StringComparison.Ordinal) ? "transformer." + kv.Key : kv.Key, kv => kv.Value.shape);
        Assert.Equal(expectedKeys.Keys.Order(StringComparer.Ordinal), saved.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, shape) in expectedKeys) Assert.Equal(shape, saved[key].Shape);
        foreach (var t in original.Values) t.Dispose();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        Assert.Equal(lm.Config.ModelType, (string?)config["model_type"]);
        var source = JsonNode.Parse(File.ReadAllText(Path.Combine(FixtureDir(name), "config.json")))!.AsObject();
        foreach (var (key, value) in source)
            if (key is not ("rope_scaling" or "n_inner" or "sliding_window"))
                Assert.True(JsonNode.DeepEquals(value, config[key]) || (value is JsonValue v && config[key] is JsonValue w && v.GetValue<double>() == w.GetValue<double>()), key);

        using var back = PretrainedCausalLm.FromPretrained(dir, CPU);
        Assert.Equal(lm.Config, back.Config);
        var before = lm.Module.state_dict();
        foreach (var (key, t) in back.Module.state_dict())
            Assert.True(Same(t, before[key]), key);
        var (tokens, _) = Expected(name);
        Assert.True(Same(lm.TokenLogits(tokens), back.TokenLogits(tokens)));
        string? keep = Environment.GetEnvironmentVariable("SUPERALIGN_KEEP_SAVED_LMS");
        if (!string.IsNullOrEmpty(keep)) lm.SaveHuggingFace(Path.Combine(keep, name));
    }

    [Fact]
    public void A_missing_tensor_is_named_and_nothing_is_returned()
    {
        string dir = CopyFixture("gpt2");
        string file = Path.Combine(dir, Safetensors.ModelFile);
        var tensors = Safetensors.Load(file);
        tensors.Remove("transformer.h.1.mlp.c_fc.bias", out var removed);
        removed!.Dispose();
        Safetensors.Save(file, tensors);
        var e = Assert.Throws<CheckpointException>(() => PretrainedCausalLm.FromPretrained(dir, CPU));
        Assert.Equal("transformer.h.1.mlp.c_fc.bias", e.Key);
        Assert.Contains("missing", e.Message);
        Assert.Contains(dir, e.Message);
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Fact]
    public void A_mis_shaped_tensor_names_the_key_and_both_shapes()
    {
        string dir = CopyFixture("llama-gqa");
        string file = Path.Combine(dir, Safetensors.ModelFile);
        var tensors = Safetensors.Load(file);
        tensors["model.layers.0.self_attn.k_proj.weight"].Dispose();
        tensors["model.layers.0.self_attn.k_proj.weight"] = zeros(32, 32); // KV = 2 heads of 8: [16, 32]
        Safetensors.Save(file, tensors);
        var e = Assert.Throws<CheckpointException>(() => PretrainedCausalLm.FromPretrained(dir, CPU));
        Assert.Equal("model.layers.0.self_attn.k_proj.weight", e.Key);
        Assert.Contains("expected shape [16, 32], found [32, 32]", e.Message);
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Fact]
    public void An_unexpected_tensor_is_named()
    {
        string dir = CopyFixture("qwen2");
        string file = Path.Combine(dir, Safetensors.ModelFile);
        var tensors = Safetensors.Load(file);
        tensors["model.layers.0.self_attn.o_proj.bias"] = zeros(32); // Qwen2's o_proj has no bias
        Safetensors.Save(file, tensors);
        var e = Assert.Throws<CheckpointException>(() => PretrainedCausalLm.FromPretrained(dir, CPU));
        Assert.Equal("model.layers.0.self_attn.o_proj.bias", e.Key);
        Assert.Contains("unexpected", e.Message);
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Theory]
    [InlineData("gpt2", "model_type", "bert", "'bert' is not supported (supported: gpt2, llama, qwen2, mistral)")]
    [InlineData("llama-gqa", "rope_scaling", """{"type":"linear","factor":2.0}""", "rope_scaling")]
    [InlineData("llama-gqa", "num_key_value_heads", "3", "NumKeyValueHeads")]
    [InlineData("llama-gqa", "hidden_act", "\"gelu\"", "hidden_act")]
    public void Unsupported_configs_are_rejected_naming_what_is_wrong(string fixture, string key, string value, string problem)
    {
        string dir = CopyFixture(fixture);
        string configPath = Path.Combine(dir, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config[key] = value.StartsWith('{') || value.StartsWith('"') || char.IsDigit(value[0]) ? JsonNode.Parse(value) : value;
        File.WriteAllText(configPath, config.ToJsonString());
        var e = Assert.Throws<CheckpointException>(() => PretrainedCausalLm.FromPretrained(dir, CPU));
        Assert.Contains(problem, e.Message);
        Assert.Contains(configPath, e.Message);
    }

    [Fact]
    public void An_unknown_dtype_names_the_file_and_tensor()
    {
        string dir = CopyFixture("gpt2");
        string file = Path.Combine(dir, Safetensors.ModelFile);
        var bytes = File.ReadAllBytes(file);
        var text = System.Text.Encoding.UTF8.GetString(bytes);
        int at = text.IndexOf("\"transformer.wpe.weight\"", StringComparison.Ordinal);
        Assert.True(at > 0);
        int dtype = text.IndexOf("F32", at, StringComparison.Ordinal);
        bytes[dtype] = (byte)'X'; // "X32": same length, unknown
        File.WriteAllBytes(file, bytes);
        var e = Assert.Throws<CheckpointException>(() => PretrainedCausalLm.FromPretrained(dir, CPU));
        Assert.Contains(file, e.Message);
        Assert.Equal("transformer.wpe.weight", e.Key);
        Assert.Contains("X32", e.Message);
    }

    [Fact]
    public void Clone_checkpoint_and_StudentFiles_keep_the_weights()
    {
        using var scope = NewDisposeScope();
        using var lm = PretrainedCausalLm.FromPretrained(FixtureDir("qwen2"), CPU);
        var (tokens, expected) = Expected("qwen2");
        using var clone = (PretrainedCausalLm)lm.Clone();
        Assert.True(Same(lm.TokenLogits(tokens), clone.TokenLogits(tokens)));
        string path = Path.Combine(TempDir(), "student.ckpt");
        lm.Save(path);
        using var reopened = StudentFiles.Open(path, CPU);
        var reloaded = Assert.IsType<PretrainedCausalLm>(reopened);
        Assert.Equal(lm.Config, reloaded.Config);
        TorchAssert.Close(expected, reloaded.TokenLogits(tokens), absTol: 1e-4);
        using var other = PretrainedCausalLm.CreateRandom(lm.Config, seed: 5, CPU);
        other.Load(path);
        Assert.True(Same(lm.TokenLogits(tokens), other.TokenLogits(tokens)));
    }

    [Fact]
    public void Greedy_generation_with_the_cache_equals_argmax_over_full_forwards()
    {
        using var scope = NewDisposeScope();
        foreach (var name in new[] { "gpt2", "llama-gqa" })
        {
            using var lm = PretrainedCausalLm.FromPretrained(FixtureDir(name), CPU);
            var (tokens, _) = Expected(name);
            var prompt = tokens.narrow(1, 0, 5);
            var generated = lm.Generate(prompt, new GenerationOptions(MaxNewTokens: 8, Temperature: 0));
            var sequence = prompt;
            for (int t = 0; t < 8; t++)
                sequence = cat(new[] { sequence, lm.TokenLogits(sequence).select(1, -1).argmax(-1, keepdim: true) }, 1);
            Assert.Equal(sequence.narrow(1, 5, 8).data<long>().ToArray(), generated.data<long>().ToArray());
            var sampled1 = lm.Generate(prompt, new GenerationOptions(MaxNewTokens: 6, Temperature: 1, TopK: 5, Seed: 3));
            var sampled2 = lm.Generate(prompt, new GenerationOptions(MaxNewTokens: 6, Temperature: 1, TopK: 5, Seed: 3));
            Assert.True(Same(sampled1, sampled2));
            Assert.Throws<ArgumentOutOfRangeException>("MaxNewTokens", () => lm.Generate(prompt, new GenerationOptions(MaxNewTokens: lm.MaxSequenceLength)));
        }
    }

    [Fact]
    public void CreateRandom_is_seeded_and_validates_its_config()
    {
        using var scope = NewDisposeScope();
        var config = new LlamaConfig("qwen2", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24, NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, MaxPositionEmbeddings: 16);
        var tokens = tensor(new long[] { 1, 2, 3, 4 }).unsqueeze(0);
        using var a = PretrainedCausalLm.CreateRandom(config, seed: 7, CPU);
        using var b = PretrainedCausalLm.CreateRandom(config, seed: 7, CPU);
        using var c = PretrainedCausalLm.CreateRandom(config, seed: 8, CPU);
        Assert.True(Same(a.TokenLogits(tokens), b.TokenLogits(tokens)));
        Assert.False(Same(a.TokenLogits(tokens), c.TokenLogits(tokens)));
        Assert.Throws<ArgumentOutOfRangeException>("NumKeyValueHeads", () => PretrainedCausalLm.CreateRandom(config with { NumKeyValueHeads = 3 }));
        Assert.Throws<ArgumentOutOfRangeException>("NHead", () => PretrainedCausalLm.CreateRandom(new Gpt2Config(10, 8, 16, 1, NHead: 0)));
        var gpt2 = new Gpt2Config(VocabSize: 40, NPositions: 16, NEmbd: 16, NLayer: 2, NHead: 2);
        using var g = PretrainedCausalLm.CreateRandom(gpt2, seed: 1, CPU);
        Assert.Equal(new long[] { 1, 4, 40 }, g.TokenLogits(tokens).shape);
        string dir = TempDir();
        g.SaveHuggingFace(dir);
        using var back = PretrainedCausalLm.FromPretrained(dir, CPU);
        Assert.True(Same(g.TokenLogits(tokens), back.TokenLogits(tokens)));
    }

    [Fact]
    public void Configs_take_hugging_face_defaults_and_windows()
    {
        var mistral = Assert.IsType<LlamaConfig>(PretrainedCausalLmConfig.Parse("""
            {"model_type":"mistral","vocab_size":32,"hidden_size":16,"intermediate_size":32,"num_hidden_layers":1,
             "num_attention_heads":4,"num_key_value_heads":2,"max_position_embeddings":64,"sliding_window":24}
            """));
        Assert.Equal(24, mistral.MaxSequenceLength);
        Assert.Equal(1e4, mistral.RopeTheta);
        Assert.False(mistral.TieWordEmbeddings);
        Assert.False(mistral.QkvBias);
        var qwen = Assert.IsType<LlamaConfig>(PretrainedCausalLmConfig.Parse("""
            {"model_type":"qwen2","vocab_size":32,"hidden_size":16,"intermediate_size":32,"num_hidden_layers":1,
             "num_attention_heads":4,"max_position_embeddings":64,"sliding_window":24,"use_sliding_window":false,"attention_bias":true}
            """));
        Assert.Equal(64, qwen.MaxSequenceLength);
        Assert.Equal(4, qwen.NumKeyValueHeads);
        Assert.True(qwen.QkvBias);
        Assert.False(qwen.OutputBias);
        var gpt2 = Assert.IsType<Gpt2Config>(PretrainedCausalLmConfig.Parse("""{"model_type":"gpt2","vocab_size":50,"n_ctx":16,"n_embd":8,"n_layer":1,"n_head":2}"""));
        Assert.Equal((16, 32, "gelu_new", true), (gpt2.NPositions, gpt2.InnerSize, gpt2.ActivationFunction, gpt2.TieWordEmbeddings));
        Assert.Contains("lacks 'num_attention_heads'", Assert.Throws<ArgumentException>(() => PretrainedCausalLmConfig.Parse("""{"model_type":"llama"}""")).Message);
        Assert.Contains("llama3", Assert.Throws<ArgumentException>(() => PretrainedCausalLmConfig.Parse("""
            {"model_type":"llama","vocab_size":32,"hidden_size":16,"intermediate_size":32,"num_hidden_layers":1,
             "num_attention_heads":4,"max_position_embeddings":64,"rope_scaling":{"rope_type":"llama3","factor":8.0}}
            """)).Message);
    }

    [Fact]
    public void Loading_and_random_construction_leave_the_global_random_stream_alone()
    {
        using var scope = NewDisposeScope();
        manual_seed(42);
        var expected = rand(3);
        manual_seed(42);
        using (PretrainedCausalLm.FromPretrained(FixtureDir("gpt2"), CPU))
        using (PretrainedCausalLm.CreateRandom(new Gpt2Config(10, 8, 16, 1, 2), seed: 3, CPU))
            Assert.True(Same(expected, rand(3)));
    }
}
