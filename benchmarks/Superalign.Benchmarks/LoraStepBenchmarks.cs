using BenchmarkDotNet.Attributes;
using Superalign.Students;
using Superalign.Students.Adapters;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Benchmarks;

/// <summary>
/// One AdamW training step (forward, token cross-entropy, backward, update) of a small LM whose projections are
/// <see cref="AdaptableLinear"/> (d256, 4 layers of q/k/v/o + 4x MLP, vocabulary 512, 32 × 64 tokens): full fine-tuning
/// against LoRA (r 8 on q_proj and v_proj, everything else frozen). The LoRA step still backpropagates through every
/// layer (the adapters sit inside them) but keeps gradients and AdamW state for 0.5 % of the scalars.
/// </summary>
[MemoryDiagnoser]
public class LoraStepBenchmarks
{
    private const int Vocabulary = 512, Width = 256, Layers = 4, Batch = 32, Tokens = 64;
    private BenchStudent _student = null!;
    private optim.Optimizer _optimizer = null!;
    private Tensor _inputs = null!, _targets = null!;

    /// <summary>Whether LoRA adapters are attached (only they train).</summary>
    [Params(false, true)]
    public bool Lora { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        _student = new BenchStudent();
        if (Lora) Students.Adapters.Lora.Apply(_student, new LoraOptions { Rank = 8, Alpha = 16, TargetModules = ["q_proj", "v_proj"] }, seed: 0);
        _optimizer = optim.AdamW(_student.Parameters(), lr: 1e-3);
        var g = new Generator(1, CPU);
        var tokens = randint(0, Vocabulary, new long[] { Batch, Tokens + 1 }, generator: g);
        _inputs = tokens.narrow(1, 0, Tokens).DetachFromDisposeScope();
        _targets = tokens.narrow(1, 1, Tokens).reshape(-1).DetachFromDisposeScope();
        Console.WriteLine($"// lora={Lora}: trainable scalars {_student.ParameterCount:N0} of {_student.Module.parameters().Sum(p => p.numel()):N0}; " +
                          $"gradient + AdamW state {_student.ParameterCount * 4 * 3 / 1024.0 / 1024.0:F2} MiB");
    }

    [Benchmark]
    public float Step()
    {
        using var scope = NewDisposeScope();
        _optimizer.zero_grad();
        var logits = _student.Module.call(_inputs);
        var loss = nn.functional.cross_entropy(logits.reshape(-1, Vocabulary), _targets);
        loss.backward();
        _optimizer.step();
        return loss.item<float>();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _optimizer.Dispose();
        _student.Dispose();
    }

    private sealed class BenchStudent : TorchStudent
    {
        public BenchStudent() : base("lora-bench", Build(), CPU) { }

        public new nn.Module<Tensor, Tensor> Module => (nn.Module<Tensor, Tensor>)base.Module;

        private static Net Build()
        {
            var net = new Net();
            using var g = new Generator(0, CPU);
            using (no_grad())
            {
                foreach (var p in net.parameters()) p.normal_(0, 0.02, g);
            }
            return net;
        }

        public override Tensor Logits(ResponseBatch batch) => Module.call(batch.Inputs);

        protected override TorchStudent CreateSibling() => new BenchStudent();
    }

    private sealed class Block : nn.Module<Tensor, Tensor>
    {
        private readonly AdaptableLinear q_proj = new(Width, Width, true), k_proj = new(Width, Width, true), v_proj = new(Width, Width, true), o_proj = new(Width, Width, true);
        private readonly AdaptableLinear up_proj = new(Width, 4 * Width, true), down_proj = new(4 * Width, Width, true);
        private readonly LayerNorm norm1 = nn.LayerNorm(Width), norm2 = nn.LayerNorm(Width);

        public Block() : base("block") => RegisterComponents();

        public override Tensor forward(Tensor x)
        {
            var h = norm1.call(x);
            var q = q_proj.call(h);
            var k = k_proj.call(h);
            var v = v_proj.call(h);
            var attention = nn.functional.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1), null, 0, true).squeeze(1);
            x = x + o_proj.call(attention);
            return x + down_proj.call(nn.functional.gelu(up_proj.call(norm2.call(x))));
        }
    }

    private sealed class Net : nn.Module<Tensor, Tensor>
    {
        private readonly Embedding embed = nn.Embedding(Vocabulary, Width);
        private readonly ModuleList<Block> layers = nn.ModuleList(Enumerable.Range(0, Layers).Select(_ => new Block()).ToArray());
        private readonly Linear lm_head = nn.Linear(Width, Vocabulary);

        public Net() : base("net") => RegisterComponents();

        public override Tensor forward(Tensor tokens)
        {
            var h = embed.call(tokens);
            foreach (var layer in layers) h = layer.call(h);
            return lm_head.call(h);
        }
    }
}
