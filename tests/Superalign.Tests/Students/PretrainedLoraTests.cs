using Superalign.Students.Adapters;
using Superalign.Students.Pretrained;
using Superalign.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Students;

/// <summary>
/// LoRA on the pretrained students (GPT-2's fan-in-fan-out <c>c_attn</c>, Llama/Qwen2's <c>q_proj</c>/<c>v_proj</c>),
/// loaded from the independent fixtures: adapters off are the base bit for bit, merged and unmerged agree, the saved
/// adapter loads into a freshly loaded base, and cached decoding still equals full forwards.
/// </summary>
public sealed class PretrainedLoraTests
{
    public static readonly TheoryData<string, string[]> Targets = new()
    {
        { "gpt2", ["c_attn"] },
        { "llama-gqa", ["q_proj", "v_proj"] },
        { "qwen2", ["q_proj", "v_proj"] },
    };

    private static string FixtureDir(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "LanguageModels", name);

    private static Tensor Tokens(string name) => Safetensors.Load(Path.Combine(FixtureDir(name), "expected.safetensors"))["tokens"];

    private static void Randomise(LoraAdapters adapters, long seed)
    {
        using var g = new Generator((ulong)seed, CPU);
        using var _ = no_grad();
        foreach (var p in adapters.Parameters())
        {
            using var draw = empty(p.shape).normal_(0, 0.2, g);
            p.copy_(draw);
        }
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Theory]
    [MemberData(nameof(Targets))]
    public void Adapters_change_the_model_only_while_enabled_and_merge_exactly(string name, string[] targets)
    {
        using var scope = NewDisposeScope();
        using var lm = PretrainedCausalLm.FromPretrained(FixtureDir(name), CPU);
        var tokens = Tokens(name);
        Tensor Logits() { using var _ = no_grad(); return lm.TokenLogits(tokens); }
        var baseLogits = Logits();

        var adapters = Lora.Apply(lm, new LoraOptions { Rank = 4, Alpha = 8, TargetModules = targets }, seed: 1);
        Assert.Equal(lm.Config.Layers * targets.Length, adapters.ModuleNames.Count);
        Assert.True(Same(baseLogits, Logits()), "B = 0: the adapted model starts equal to the base");
        Assert.Equal(adapters.ParameterCount, lm.ParameterCount);

        Randomise(adapters, 2);
        var adapted = Logits();
        Assert.False(Same(baseLogits, adapted), "random adapters must change the logits");
        using (adapters.DisableAdapters())
            Assert.True(Same(baseLogits, Logits()), "adapters off: the base bit for bit");

        adapters.Merge();
        TorchAssert.Close(adapted, Logits(), absTol: 1e-5, what: $"{name} merged");
        adapters.Unmerge();
        TorchAssert.Close(adapted, Logits(), absTol: 1e-5, what: $"{name} unmerged");

        // Cached greedy decoding of the adapted model equals argmax over full forwards.
        var prompt = tokens.narrow(1, 0, 4);
        var generated = lm.Generate(prompt, new GenerationOptions(MaxNewTokens: 5, Temperature: 0));
        var sequence = prompt;
        for (int t = 0; t < 5; t++)
        {
            Tensor next;
            using (no_grad()) next = lm.TokenLogits(sequence).select(1, -1).argmax(-1, keepdim: true);
            sequence = cat(new[] { sequence, next }, 1);
        }
        Assert.True(Same(sequence.narrow(1, 4, 5), generated), "cached generation with adapters equals full forwards");
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void A_saved_adapter_loads_into_a_fresh_base_and_gives_the_same_logits(string name, string[] targets)
    {
        using var scope = NewDisposeScope();
        string dir = Path.Combine(Path.GetTempPath(), "superalign-pretrained-lora-" + Guid.NewGuid().ToString("N"));
        try
        {
            var tokens = Tokens(name);
            Tensor expected;
            using (var lm = PretrainedCausalLm.FromPretrained(FixtureDir(name), CPU))
            {
                var adapters = Lora.Apply(lm, new LoraOptions { Rank = 2, Alpha = 4, TargetModules = targets }, seed: 3);
                Randomise(adapters, 4);
                using (no_grad()) expected = lm.TokenLogits(tokens);
                adapters.Save(dir, FixtureDir(name));
            }
            using var fresh = PretrainedCausalLm.FromPretrained(FixtureDir(name), CPU);
            var loaded = Lora.Load(fresh, dir);
            Assert.Equal(targets.Length * fresh.Config.Layers, loaded.ModuleNames.Count);
            using (no_grad())
                Assert.True(Same(expected, fresh.TokenLogits(tokens)), "the loaded adapter gives the saved model's logits bit for bit");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
