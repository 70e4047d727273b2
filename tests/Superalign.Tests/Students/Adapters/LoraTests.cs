using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Superalign.Data;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Reference;
using Superalign.Students.Adapters;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static Superalign.Tests.Students.StudentTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Students.Adapters;

/// <summary>LoRA on <see cref="AdaptableLinear"/> projections, in both weight layouts, checked against dense computations.</summary>
public class LoraTests
{
    private static readonly LoraOptions Options = new() { Rank = 3, Alpha = 6, TargetModules = ["q_proj", "v_proj", "c_attn"] };

    public static TheoryData<bool> Layouts() => new() { false, true };

    private static Tensor Tokens(long seed, int rows = 4)
    {
        using var g = new Generator((ulong)seed, CPU);
        return randint(0, ToyAdaptableLm.Vocabulary, new long[] { rows, ToyAdaptableLm.Length }, generator: g);
    }

    private static Tensor LogitsOf(ToyAdaptableLm student, Tensor tokens)
    {
        using var _ = no_grad();
        return student.TokenLogits(tokens);
    }

    /// <summary>Gives every adapter factor random values (B is zero after attaching, which hides most errors).</summary>
    private static void Randomise(LoraAdapters adapters, long seed, double std = 0.3)
    {
        using var g = new Generator((ulong)seed, CPU);
        using var _ = no_grad();
        foreach (var p in adapters.Parameters())
        {
            using var draw = empty(p.shape, dtype: ScalarType.Float64).normal_(0, std, g);
            p.copy_(draw);
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Right_after_attaching_the_student_computes_its_base_bit_for_bit(bool fanInFanOut)
    {
        using var student = new ToyAdaptableLm(fanInFanOut, seed: 1);
        var tokens = Tokens(2);
        var before = LogitsOf(student, tokens);
        var adapters = Lora.Apply(student, Options, seed: 3);
        Assert.Equal(6, adapters.ModuleNames.Count);
        Assert.All(student.Projections.Values, m => Assert.True(m.HasAdapter));
        Assert.All(student.Projections.Values, m => Assert.True(m.LoraB!.abs().max().item<float>() == 0));
        Assert.All(student.Projections.Values, m => Assert.True(m.LoraA!.abs().max().item<float>() > 0));
        Identical(before, LogitsOf(student, tokens), "logits right after attaching");
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Disabled_adapters_give_the_base_output_bit_for_bit(bool fanInFanOut)
    {
        using var student = new ToyAdaptableLm(fanInFanOut, seed: 1);
        var tokens = Tokens(2);
        var baseLogits = LogitsOf(student, tokens);
        var adapters = Lora.Apply(student, Options, seed: 3);
        Randomise(adapters, 4);
        var adapted = LogitsOf(student, tokens);
        Assert.False(BitwiseEqual(baseLogits, adapted), "random adapters must change the logits");
        using (adapters.DisableAdapters())
        {
            Identical(baseLogits, LogitsOf(student, tokens), "logits with adapters disabled");
            using (adapters.DisableAdapters()) Identical(baseLogits, LogitsOf(student, tokens), "nested scope");
            Assert.All(student.Projections.Values, m => Assert.False(m.AdapterEnabled));
        }
        Assert.All(student.Projections.Values, m => Assert.True(m.AdapterEnabled));
        Identical(adapted, LogitsOf(student, tokens), "logits after the scope");
    }

    [Fact]
    public void Adapter_parameters_carry_peft_names_and_shapes()
    {
        using var student = new ToyAdaptableLm(fanInFanOut: true, seed: 1);
        Lora.Apply(student, Options, seed: 3);
        var names = student.Module.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal(new long[] { 3, ToyAdaptableLm.Width }, names["layers.0.q_proj.lora_A.weight"]);
        Assert.Equal(new long[] { ToyAdaptableLm.Width, 3 }, names["layers.0.q_proj.lora_B.weight"]);
        Assert.Contains("layers.1.c_attn.lora_A.weight", names.Keys);
        Assert.Contains("layers.1.v_proj.lora_B.weight", names.Keys);
        Assert.Contains("layers.1.c_attn.lora_A.weight", student.Module.state_dict().Keys);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Only_adapter_parameters_train_and_get_gradients(bool fanInFanOut)
    {
        using var student = new ToyAdaptableLm(fanInFanOut, seed: 1);
        int all = student.Parameters().Count;
        var adapters = Lora.Apply(student, Options, seed: 3);
        Assert.Equal(adapters.Parameters().Select(p => p.Handle), student.Parameters().Select(p => p.Handle));
        Assert.Equal(12, student.Parameters().Count);
        Assert.Equal(6 * (3 * 8 + 8 * 3), student.ParameterCount);
        Randomise(adapters, 4);
        var adapter = new HashSet<IntPtr>(adapters.Parameters().Select(p => p.Handle));
        using (var scope = NewDisposeScope())
        {
            var batch = ResponseBatch.ForCausalLm(Tokens(5), ones(4, ToyAdaptableLm.Length));
            Nll(student, batch).backward();
        }
        foreach (var (name, p) in student.Module.named_parameters())
        {
            if (adapter.Contains(p.Handle))
            {
                Assert.True(p.requires_grad, name);
                Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"{name} got no gradient");
            }
            else
            {
                Assert.False(p.requires_grad, name);
                Assert.True(p.grad is null, $"{name} is frozen but got a gradient");
            }
        }
        adapters.Remove();
        Assert.Equal(all, student.Parameters().Count);
        Assert.DoesNotContain(student.Module.named_parameters(), p => p.name.Contains("lora_"));
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Merged_equals_unmerged_and_a_dense_computation_and_unmerging_restores_the_weight(bool fanInFanOut)
    {
        using var student = new ToyAdaptableLm(fanInFanOut, seed: 1);
        var adapters = Lora.Apply(student, Options, seed: 3);
        Randomise(adapters, 4);
        var m = student.Projections["layers.0.q_proj"];
        using var g = new Generator(7, CPU);
        var x = randn(new long[] { 3, 5, ToyAdaptableLm.Width }, generator: g);
        var w0 = m.Weight.detach().clone();

        // Independent dense computation in float64: x·(W + s·B·A)ᵀ + b with W as [out, in].
        var w = (fanInFanOut ? m.Weight.t() : m.Weight).to(ScalarType.Float64);
        var dense = x.to(ScalarType.Float64).matmul((w + 2.0 * m.LoraB!.to(ScalarType.Float64).matmul(m.LoraA!.to(ScalarType.Float64))).t()) + m.Bias!.to(ScalarType.Float64);
        Assert.Equal(2.0, m.LoraScaling);

        Tensor unmerged, merged;
        using (no_grad()) unmerged = m.call(x);
        var tokens = Tokens(2);
        var logits = LogitsOf(student, tokens);
        adapters.Merge();
        Assert.True(adapters.IsMerged);
        using (no_grad()) merged = m.call(x);
        TorchAssert.Close(dense, unmerged.to(ScalarType.Float64), 1e-5, what: "unmerged vs dense");
        TorchAssert.Close(dense, merged.to(ScalarType.Float64), 1e-5, what: "merged vs dense");
        TorchAssert.Close(logits, LogitsOf(student, tokens), 1e-5, what: "student logits merged vs unmerged");
        Assert.Throws<InvalidOperationException>(() => adapters.DisableAdapters());
        adapters.Unmerge();
        Assert.False(adapters.IsMerged);
        TorchAssert.Close(w0, m.Weight.detach(), 1e-6, what: "weight after unmerge");
    }

    [Fact]
    public void An_adapter_gradient_matches_finite_differences()
    {
        using var student = new ToyAdaptableLm(fanInFanOut: true, seed: 1, ScalarType.Float64);
        var adapters = Lora.Apply(student, Options, seed: 3);
        Assert.Equal(ScalarType.Float64, adapters.Parameters()[0].dtype);
        Randomise(adapters, 4);
        var batch = ResponseBatch.ForCausalLm(Tokens(5), ones(4, ToyAdaptableLm.Length));
        double Loss()
        {
            using var _ = no_grad();
            return Nll(student, batch).item<double>();
        }
        Nll(student, batch).backward();
        foreach (var name in new[] { "layers.1.v_proj.lora_A.weight", "layers.0.c_attn.lora_B.weight" })
        {
            var p = student.Module.named_parameters().Single(q => q.name == name).parameter;
            double analytic = p.grad!.view(-1)[2].item<double>();
            const double eps = 1e-6;
            double original = p.view(-1)[2].item<double>();
            using (no_grad()) p.view(-1)[2].fill_(original + eps);
            double up = Loss();
            using (no_grad()) p.view(-1)[2].fill_(original - eps);
            double down = Loss();
            using (no_grad()) p.view(-1)[2].fill_(original);
            double numeric = (up - down) / (2 * eps);
            Assert.True(Math.Abs(analytic - numeric) <= 1e-7 + 1e-6 * Math.Abs(numeric), $"{name}: analytic {analytic}, finite difference {numeric}");
            Assert.True(Math.Abs(analytic) > 1e-6, $"{name}: gradient too small to check ({analytic})");
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Saved_adapters_load_bit_exact_into_a_fresh_base(bool fanInFanOut)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"superalign-lora-{Guid.NewGuid():N}");
        try
        {
            using var student = new ToyAdaptableLm(fanInFanOut, seed: 1);
            var adapters = Lora.Apply(student, Options, seed: 3);
            Randomise(adapters, 4);
            var tokens = Tokens(2);
            var expected = LogitsOf(student, tokens);
            adapters.Save(dir, "toy/base");
            Assert.True(File.Exists(Path.Combine(dir, "adapter_config.json")));
            Assert.True(File.Exists(Path.Combine(dir, "adapter_model.safetensors")));

            using var fresh = new ToyAdaptableLm(fanInFanOut, seed: 1);
            var loaded = Lora.Load(fresh, dir);
            Assert.Equal(adapters.ModuleNames, loaded.ModuleNames);
            Assert.Equal(3, loaded.Options.Rank);
            Assert.Equal(6.0, loaded.Options.Alpha);
            var a = adapters.PeftStateDict();
            var b = loaded.PeftStateDict();
            Assert.Equal(a.Select(e => e.Key), b.Select(e => e.Key));
            for (int i = 0; i < a.Count; i++) Identical(a[i].Value, b[i].Value, a[i].Key);
            Identical(expected, LogitsOf(fresh, tokens), "logits of the loaded adapters");
            Assert.Equal(loaded.Parameters().Count, fresh.Parameters().Count);

            // An adapter of another rank is refused, and the student is left without adapters and unfrozen.
            using var mismatch = new ToyAdaptableLm(fanInFanOut, seed: 1);
            var ranked = Path.Combine(dir, "adapter_config.json");
            File.WriteAllText(ranked, File.ReadAllText(ranked).Replace("\"r\": 3", "\"r\": 2"));
            Assert.Throws<InvalidDataException>(() => Lora.Load(mismatch, dir));
            Assert.False(Lora.HasAdapters(mismatch));
            Assert.True(mismatch.Module.parameters().All(p => p.requires_grad));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void The_saved_files_follow_peft(bool fanInFanOut)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"superalign-lora-{Guid.NewGuid():N}");
        try
        {
            using var student = new ToyAdaptableLm(fanInFanOut, seed: 1);
            var adapters = Lora.Apply(student, new LoraOptions { Rank = 2, Alpha = 16, Dropout = 0.05, TargetModules = ["c_attn"] }, seed: 3);
            adapters.Save(dir, "gpt2");
            using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json"))))
            {
                var root = config.RootElement;
                Assert.Equal("LORA", root.GetProperty("peft_type").GetString());
                Assert.Equal("CAUSAL_LM", root.GetProperty("task_type").GetString());
                Assert.Equal(2, root.GetProperty("r").GetInt32());
                Assert.Equal(16, root.GetProperty("lora_alpha").GetInt32());
                Assert.Equal(0.05, root.GetProperty("lora_dropout").GetDouble());
                Assert.Equal(new[] { "c_attn" }, root.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
                Assert.Equal(fanInFanOut, root.GetProperty("fan_in_fan_out").GetBoolean());
                Assert.Equal("none", root.GetProperty("bias").GetString());
                Assert.Equal("gpt2", root.GetProperty("base_model_name_or_path").GetString());
            }

            // The weights file, read here independently of the library: 8-byte length, JSON header, F32 data.
            var bytes = File.ReadAllBytes(Path.Combine(dir, "adapter_model.safetensors"));
            long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            Assert.Equal(0, (8 + n) % 8);
            using var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n));
            var tensors = header.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").ToDictionary(p => p.Name, p => p.Value);
            Assert.Equal(
                new[] { "layers.0.c_attn.lora_A.weight", "layers.0.c_attn.lora_B.weight", "layers.1.c_attn.lora_A.weight", "layers.1.c_attn.lora_B.weight" }
                    .Select(k => "base_model.model." + k).Order(),
                tensors.Keys.Order());
            var a = tensors["base_model.model.layers.1.c_attn.lora_A.weight"];
            Assert.Equal("F32", a.GetProperty("dtype").GetString());
            Assert.Equal(new long[] { 2, ToyAdaptableLm.Width }, a.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
            Assert.Equal(new long[] { ToyAdaptableLm.Width, 2 }, tensors["base_model.model.layers.1.c_attn.lora_B.weight"].GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
            var offsets = a.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var first = BitConverter.ToSingle(bytes, 8 + (int)n + offsets[0]);
            Assert.Equal(student.Projections["layers.1.c_attn"].LoraA![0, 0].item<float>(), first);
            Assert.Equal("pt", header.RootElement.GetProperty("__metadata__").GetProperty("format").GetString());
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Targets_that_match_nothing_are_named_with_the_available_modules()
    {
        using var student = new ToyAdaptableLm(fanInFanOut: false, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => Lora.Apply(student, new LoraOptions { TargetModules = ["k_proj", "proj"] }, seed: 0));
        Assert.Contains("\"k_proj\"", e.Message);
        Assert.Contains("layers.0.q_proj", e.Message);
        Assert.Contains("layers.1.c_attn", e.Message);
        Assert.False(Lora.HasAdapters(student));
        Assert.True(student.Module.parameters().All(p => p.requires_grad));

        // Suffix matching is by whole segments, as in PEFT; a dotted suffix selects one layer.
        var one = Lora.Apply(student, new LoraOptions { TargetModules = ["1.q_proj"] }, seed: 0);
        Assert.Equal(new[] { "layers.1.q_proj" }, one.ModuleNames);
        Assert.Throws<InvalidOperationException>(() => Lora.Apply(student, Options, seed: 0));
    }

    public static TheoryData<string, LoraOptions> BadOptions() => new()
    {
        { nameof(LoraOptions.Rank), new LoraOptions { Rank = 0 } },
        { nameof(LoraOptions.Alpha), new LoraOptions { Alpha = 0 } },
        { nameof(LoraOptions.Alpha), new LoraOptions { Alpha = double.NaN } },
        { nameof(LoraOptions.Dropout), new LoraOptions { Dropout = 1 } },
        { nameof(LoraOptions.Dropout), new LoraOptions { Dropout = -0.1 } },
        { nameof(LoraOptions.TargetModules), new LoraOptions { TargetModules = [] } },
        { nameof(LoraOptions.TargetModules), new LoraOptions { TargetModules = ["q_proj", " "] } },
        { nameof(LoraOptions.TargetModules), new LoraOptions { TargetModules = ["q_proj", "q_proj"] } },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Options_out_of_range_are_rejected_naming_the_option(string option, LoraOptions options)
    {
        using var student = new ToyAdaptableLm(fanInFanOut: false, seed: 1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Lora.Apply(student, options, seed: 0));
        Assert.Equal(option, e.ParamName);
        Assert.False(Lora.HasAdapters(student));
    }

    [Fact]
    public void A_clone_carries_the_adapters_and_their_values()
    {
        using var student = new ToyAdaptableLm(fanInFanOut: true, seed: 1);
        var adapters = Lora.Apply(student, Options, seed: 3);
        Randomise(adapters, 4);
        var tokens = Tokens(2);
        using var clone = (ToyAdaptableLm)student.Clone();
        Identical(LogitsOf(student, tokens), LogitsOf(clone, tokens), "clone logits");
        Assert.Equal(student.Parameters().Count, clone.Parameters().Count);
        using (Lora.DisableAdapters(clone))
        using (adapters.DisableAdapters())
            Identical(LogitsOf(student, tokens), LogitsOf(clone, tokens), "clone base logits");

        // The copying reference policies work on an adapted student: their copies hold the same adapters.
        var pairs = new PreferenceBatch(ResponseBatch.ForCausalLm(tokens, ones(4, ToyAdaptableLm.Length)), ResponseBatch.ForCausalLm(Tokens(3), ones(4, ToyAdaptableLm.Length)));
        using var frozen = FrozenReferencePolicy.CopyOf(student);
        using var synced = new SyncedReferencePolicy(student, syncEvery: 1);
        using (no_grad())
        {
            var (c, r) = LogProbs.Pair(student, pairs);
            Identical(c, frozen.LogProbs(pairs).Chosen, "frozen copy, chosen");
            Identical(r, synced.LogProbs(pairs).Rejected, "synced copy, rejected");
        }
        Assert.Equal(student.Parameters().Count, synced.Reference.Parameters().Count);
        synced.AfterUpdate(student, 1);
        Assert.Equal(1, synced.Syncs);
    }

    [Fact]
    public void Dropout_acts_on_the_adapter_input_in_training_mode_only()
    {
        using var student = new ToyAdaptableLm(fanInFanOut: false, seed: 1);
        var adapters = Lora.Apply(student, Options, seed: 3);
        adapters.Remove();
        var dropped = Lora.Apply(student, new LoraOptions { Rank = 3, Alpha = 6, Dropout = 0.5, TargetModules = ["q_proj"] }, seed: 3);
        Randomise(dropped, 4);
        var tokens = Tokens(2);
        student.SetTraining(false);
        var eval1 = LogitsOf(student, tokens);
        Identical(eval1, LogitsOf(student, tokens), "evaluation is deterministic");
        student.SetTraining(true);
        manual_seed(1);
        Assert.False(BitwiseEqual(eval1, LogitsOf(student, tokens)), "training-mode dropout changes the output");
        using (dropped.DisableAdapters())
        {
            var baseTraining = LogitsOf(student, tokens);
            student.SetTraining(false);
            Identical(baseTraining, LogitsOf(student, tokens), "disabled adapters draw no dropout");
        }
    }
}
