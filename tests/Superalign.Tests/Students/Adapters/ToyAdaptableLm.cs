using Superalign.Students;
using Superalign.Students.Adapters;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Tests.Students.Adapters;

/// <summary>
/// A tiny causal LM whose projections are <see cref="AdaptableLinear"/>, named as in HF models (q_proj, v_proj,
/// c_attn) inside <c>layers.{i}</c>: embedding → per layer h += tanh(q_proj(h)) + causal running mean of v_proj(h),
/// h += tanh(c_attn(h)) → lm_head (an nn.Linear, not adaptable). Base weights are drawn from a seed.
/// </summary>
internal sealed class ToyAdaptableLm : TorchStudent, ILanguageModelStudent
{
    public const int Vocabulary = 11, Width = 8, Length = 12;
    private readonly bool _fanInFanOut;
    private readonly long _seed;
    private readonly ScalarType _dtype;

    public ToyAdaptableLm(bool fanInFanOut, long seed, ScalarType dtype = ScalarType.Float32)
        : base("toy-adaptable-lm", Build(fanInFanOut, seed, dtype), CPU)
    {
        (_fanInFanOut, _seed, _dtype) = (fanInFanOut, seed, dtype);
    }

    private static Net Build(bool fanInFanOut, long seed, ScalarType dtype)
    {
        var net = new Net(fanInFanOut);
        using var g = new Generator((ulong)seed, CPU);
        using (no_grad())
        {
            foreach (var p in net.parameters()) p.normal_(0, 0.4, g);
        }
        net.to(dtype);
        return net;
    }

    public int VocabularySize => Vocabulary;

    public int MaxSequenceLength => Length;

    public Tensor TokenLogits(Tensor tokens) => ((Net)Module).call(tokens);

    public Tensor Generate(Tensor prompts, GenerationOptions options) => throw new NotSupportedException();

    public override Tensor Logits(ResponseBatch batch) => TokenLogits(batch.Inputs);

    protected override TorchStudent CreateSibling() => new ToyAdaptableLm(_fanInFanOut, _seed + 1, _dtype);

    /// <summary>The adaptable projections by module path.</summary>
    public IReadOnlyDictionary<string, AdaptableLinear> Projections =>
        Module.named_modules().Where(m => m.module is AdaptableLinear).ToDictionary(m => m.name, m => (AdaptableLinear)m.module);

    private sealed class Layer : nn.Module<Tensor, Tensor>
    {
        private readonly AdaptableLinear q_proj;
        private readonly AdaptableLinear v_proj;
        private readonly AdaptableLinear c_attn;

        public Layer(bool fanInFanOut) : base("layer")
        {
            q_proj = new AdaptableLinear(Width, Width, hasBias: true, fanInFanOut);
            v_proj = new AdaptableLinear(Width, Width, hasBias: false, fanInFanOut);
            c_attn = new AdaptableLinear(Width, Width, hasBias: true, fanInFanOut);
            RegisterComponents();
        }

        public override Tensor forward(Tensor h)
        {
            var v = v_proj.call(h);
            var steps = arange(1, h.shape[1] + 1, dtype: h.dtype).view(1, -1, 1);
            h = h + q_proj.call(h).tanh() + v.cumsum(1) / steps;
            return h + c_attn.call(h).tanh();
        }
    }

    private sealed class Net : nn.Module<Tensor, Tensor>
    {
        private readonly Embedding embed;
        private readonly ModuleList<Layer> layers;
        private readonly Linear lm_head;

        public Net(bool fanInFanOut) : base("toy")
        {
            embed = nn.Embedding(Vocabulary, Width);
            layers = nn.ModuleList(new Layer(fanInFanOut), new Layer(fanInFanOut));
            lm_head = nn.Linear(Width, Vocabulary);
            RegisterComponents();
        }

        public override Tensor forward(Tensor tokens)
        {
            var h = embed.call(tokens);
            foreach (var layer in layers) h = layer.call(h);
            return lm_head.call(h);
        }
    }
}
