using System.Text.RegularExpressions;
using Superalign.Students.Adapters;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students.Pretrained;

/// <summary>GPT2LMHeadModel: <c>transformer.{wte, wpe, h.i, ln_f}</c> and, when untied, <c>lm_head</c>.</summary>
internal sealed partial class Gpt2Network : CausalLmNetwork
{
    private readonly Gpt2Config _config;
    private readonly Gpt2Transformer transformer;
    private readonly AdaptableLinear? lm_head;

    public Gpt2Network(Gpt2Config config) : base("GPT2LMHeadModel")
    {
        _config = config;
        transformer = new Gpt2Transformer(config);
        if (!config.TieWordEmbeddings)
        {
            lm_head = new AdaptableLinear(config.NEmbd, config.VocabSize, hasBias: false, name: "lm_head");
        }
        RegisterComponents();
    }

    public override Tensor Forward(Tensor tokens, Tensor? positions, Tensor? attentionMask, KeyValueCache? cache)
    {
        var hidden = transformer.Forward(tokens, positions, attentionMask, cache);
        return lm_head is null ? nn.functional.linear(hidden, transformer.TokenEmbedding) : lm_head.call(hidden);
    }

    public override void Initialize(Generator generator)
    {
        transformer.Initialize(generator);
        if (lm_head is not null) Normal(lm_head, 0.02, generator);
    }

    [GeneratedRegex(@"^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$")]
    private static partial Regex LegacyBuffer();

    public override string? ParameterFor(string checkpointKey, ISet<string> parameterNames)
    {
        if (LegacyBuffer().IsMatch(checkpointKey)) return null;
        if (checkpointKey == "lm_head.weight" && _config.TieWordEmbeddings) return null;
        if (!parameterNames.Contains(checkpointKey) && parameterNames.Contains("transformer." + checkpointKey))
            return "transformer." + checkpointKey; // the original gpt2 files' bare keys
        return checkpointKey;
    }

    private sealed class Gpt2Transformer : nn.Module
    {
        private readonly Embedding wte;
        private readonly Embedding wpe;
        private readonly ModuleList<Gpt2Block> h;
        private readonly LayerNorm ln_f;

        public Gpt2Transformer(Gpt2Config config) : base("transformer")
        {
            wte = nn.Embedding(config.VocabSize, config.NEmbd);
            wpe = nn.Embedding(config.NPositions, config.NEmbd);
            h = new ModuleList<Gpt2Block>();
            for (int i = 0; i < config.NLayer; i++) h.Add(new Gpt2Block(config, i));
            ln_f = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
            RegisterComponents();
        }

        public Parameter TokenEmbedding => wte.weight!;

        public Tensor Forward(Tensor tokens, Tensor? positions, Tensor? attentionMask, KeyValueCache? cache)
        {
            var x = wte.call(tokens) + (positions is null
                ? wpe.weight!.narrow(0, 0, tokens.shape[1])
                : wpe.call(positions.clamp_min(0)));
            foreach (var block in h) x = block.Forward(x, attentionMask, cache);
            return ln_f.call(x);
        }

        public void Initialize(Generator generator)
        {
            wte.weight!.normal_(0, 0.02, generator);
            wpe.weight!.normal_(0, 0.01, generator);
            foreach (var block in h) block.Initialize(generator, h.Count);
            ln_f.weight!.fill_(1);
            ln_f.bias!.zero_();
        }
    }

    private sealed class Gpt2Block : nn.Module
    {
        private readonly LayerNorm ln_1;
        private readonly LayerNorm ln_2;
        private readonly Gpt2Attention attn;
        private readonly Gpt2Mlp mlp;

        public Gpt2Block(Gpt2Config config, int layer) : base($"h.{layer}")
        {
            ln_1 = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
            attn = new Gpt2Attention(config, layer);
            ln_2 = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
            mlp = new Gpt2Mlp(config);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor? attentionMask, KeyValueCache? cache)
        {
            x = x + attn.Forward(ln_1.call(x), attentionMask, cache);
            return x + mlp.Forward(ln_2.call(x));
        }

        public void Initialize(Generator generator, int layers)
        {
            foreach (var norm in new[] { ln_1, ln_2 })
            {
                norm.weight!.fill_(1);
                norm.bias!.zero_();
            }
            attn.Initialize(generator, layers);
            mlp.Initialize(generator, layers);
        }
    }

    private sealed class Gpt2Attention : nn.Module
    {
        private readonly AdaptableLinear c_attn;
        private readonly AdaptableLinear c_proj;
        private readonly int _heads;
        private readonly int _layer;

        public Gpt2Attention(Gpt2Config config, int layer) : base("attn")
        {
            c_attn = new AdaptableLinear(config.NEmbd, 3L * config.NEmbd, hasBias: true, fanInFanOut: true, name: "c_attn");
            c_proj = new AdaptableLinear(config.NEmbd, config.NEmbd, hasBias: true, fanInFanOut: true, name: "c_proj");
            _heads = config.NHead;
            _layer = layer;
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor? attentionMask, KeyValueCache? cache)
        {
            long b = x.shape[0], l = x.shape[1], d = x.shape[2];
            // [B, L, 3D] → [3, B, H, L, D/H]: q, k, v in that order.
            var parts = c_attn.call(x).view(b, l, 3, _heads, d / _heads).permute(2, 0, 3, 1, 4);
            Tensor q = parts[0], k = parts[1], v = parts[2];
            if (cache is not null) (k, v) = cache.Append(_layer, k, v);
            var y = Attend(q, k, v, attentionMask);
            return c_proj.call(y.transpose(1, 2).reshape(b, l, d));
        }

        public void Initialize(Generator generator, int layers)
        {
            Normal(c_attn, 0.02, generator);
            Normal(c_proj, 0.02 / Math.Sqrt(2.0 * layers), generator);
        }
    }

    private sealed class Gpt2Mlp : nn.Module
    {
        private readonly AdaptableLinear c_fc;
        private readonly AdaptableLinear c_proj;
        private readonly bool _tanh;

        public Gpt2Mlp(Gpt2Config config) : base("mlp")
        {
            c_fc = new AdaptableLinear(config.NEmbd, config.InnerSize, hasBias: true, fanInFanOut: true, name: "c_fc");
            c_proj = new AdaptableLinear(config.InnerSize, config.NEmbd, hasBias: true, fanInFanOut: true, name: "c_proj");
            _tanh = config.ActivationFunction != "gelu";
            RegisterComponents();
        }

        public Tensor Forward(Tensor x)
        {
            var h = c_fc.call(x);
            // gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
            h = _tanh ? h * 0.5 * (1 + (Math.Sqrt(2.0 / Math.PI) * (h + 0.044715 * h.pow(3))).tanh()) : nn.functional.gelu(h);
            return c_proj.call(h);
        }

        public void Initialize(Generator generator, int layers)
        {
            Normal(c_fc, 0.02, generator);
            Normal(c_proj, 0.02 / Math.Sqrt(2.0 * layers), generator);
        }
    }
}
