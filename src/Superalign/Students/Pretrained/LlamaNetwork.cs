using System.Text.RegularExpressions;
using Superalign.Students.Adapters;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students.Pretrained;

/// <summary>LlamaForCausalLM (also Qwen2, Mistral): <c>model.{embed_tokens, layers.i, norm}</c> and, when untied, <c>lm_head</c>.</summary>
internal sealed partial class LlamaNetwork : CausalLmNetwork
{
    private readonly LlamaConfig _config;
    private readonly LlamaModel model;
    private readonly AdaptableLinear? lm_head;

    public LlamaNetwork(LlamaConfig config) : base("LlamaForCausalLM")
    {
        _config = config;
        model = new LlamaModel(config);
        if (!config.TieWordEmbeddings)
        {
            lm_head = new AdaptableLinear(config.HiddenSize, config.VocabSize, hasBias: false, name: "lm_head");
        }
        RegisterComponents();
    }

    public override Tensor Forward(Tensor tokens, Tensor? positions, Tensor? attentionMask, KeyValueCache? cache)
    {
        var hidden = model.Forward(tokens, positions, attentionMask, cache);
        return lm_head is null ? nn.functional.linear(hidden, model.TokenEmbedding) : lm_head.call(hidden);
    }

    public override void Initialize(Generator generator)
    {
        model.Initialize(generator);
        if (lm_head is not null) Normal(lm_head, 0.02, generator);
    }

    [GeneratedRegex(@"^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$")]
    private static partial Regex RotaryBuffer();

    public override string? ParameterFor(string checkpointKey, ISet<string> parameterNames)
    {
        if (RotaryBuffer().IsMatch(checkpointKey)) return null;
        if (checkpointKey == "lm_head.weight" && _config.TieWordEmbeddings) return null;
        return checkpointKey;
    }

    private sealed class LlamaModel : nn.Module
    {
        private readonly Embedding embed_tokens;
        private readonly ModuleList<LlamaBlock> layers;
        private readonly RmsNorm norm;
        private readonly LlamaConfig _config;

        public LlamaModel(LlamaConfig config) : base("model")
        {
            _config = config;
            embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize);
            layers = new ModuleList<LlamaBlock>();
            for (int i = 0; i < config.NumHiddenLayers; i++) layers.Add(new LlamaBlock(config, i));
            norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
            RegisterComponents();
        }

        public Parameter TokenEmbedding => embed_tokens.weight!;

        public Tensor Forward(Tensor tokens, Tensor? positions, Tensor? attentionMask, KeyValueCache? cache)
        {
            var x = embed_tokens.call(tokens);
            var (cos, sin) = Rotary(positions ?? arange(tokens.shape[1], dtype: ScalarType.Int64, device: tokens.device).unsqueeze(0), x.device);
            foreach (var layer in layers) x = layer.Forward(x, cos, sin, attentionMask, cache);
            return norm.call(x);
        }

        /// <summary>cos and sin of <c>[B, 1, L, hd]</c>: <c>inv_freq = 1/θ^(2i/hd)</c>, angles <c>pos·inv_freq</c> twice over (HF's layout).</summary>
        private (Tensor Cos, Tensor Sin) Rotary(Tensor positions, Device device)
        {
            int hd = _config.HeadSize;
            var exponent = arange(0, hd, 2, dtype: ScalarType.Int64, device: device).to_type(ScalarType.Float32) / hd;
            var invFreq = full(new long[] { hd / 2 }, _config.RopeTheta, dtype: ScalarType.Float32, device: device).pow(exponent).reciprocal();
            var freqs = positions.to_type(ScalarType.Float32).unsqueeze(-1) * invFreq;  // [B, L, hd/2]
            var emb = cat(new[] { freqs, freqs }, -1).unsqueeze(1);                      // [B, 1, L, hd]
            return (emb.cos(), emb.sin());
        }

        public void Initialize(Generator generator)
        {
            embed_tokens.weight!.normal_(0, 0.02, generator);
            foreach (var layer in layers) layer.Initialize(generator);
            norm.Reset();
        }
    }

    private sealed class LlamaBlock : nn.Module
    {
        private readonly RmsNorm input_layernorm;
        private readonly LlamaAttention self_attn;
        private readonly RmsNorm post_attention_layernorm;
        private readonly LlamaMlp mlp;

        public LlamaBlock(LlamaConfig config, int layer) : base($"layers.{layer}")
        {
            input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
            self_attn = new LlamaAttention(config, layer);
            post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
            mlp = new LlamaMlp(config);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? attentionMask, KeyValueCache? cache)
        {
            x = x + self_attn.Forward(input_layernorm.call(x), cos, sin, attentionMask, cache);
            return x + mlp.Forward(post_attention_layernorm.call(x));
        }

        public void Initialize(Generator generator)
        {
            input_layernorm.Reset();
            post_attention_layernorm.Reset();
            self_attn.Initialize(generator);
            mlp.Initialize(generator);
        }
    }

    private sealed class LlamaAttention : nn.Module
    {
        private readonly AdaptableLinear q_proj;
        private readonly AdaptableLinear k_proj;
        private readonly AdaptableLinear v_proj;
        private readonly AdaptableLinear o_proj;
        private readonly int _heads;
        private readonly int _kvHeads;
        private readonly int _headSize;
        private readonly int _layer;

        public LlamaAttention(LlamaConfig config, int layer) : base("self_attn")
        {
            _heads = config.NumAttentionHeads;
            _kvHeads = config.NumKeyValueHeads;
            _headSize = config.HeadSize;
            _layer = layer;
            q_proj = new AdaptableLinear(config.HiddenSize, (long)_heads * _headSize, config.QkvBias, name: "q_proj");
            k_proj = new AdaptableLinear(config.HiddenSize, (long)_kvHeads * _headSize, config.QkvBias, name: "k_proj");
            v_proj = new AdaptableLinear(config.HiddenSize, (long)_kvHeads * _headSize, config.QkvBias, name: "v_proj");
            o_proj = new AdaptableLinear((long)_heads * _headSize, config.HiddenSize, config.OutputBias, name: "o_proj");
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? attentionMask, KeyValueCache? cache)
        {
            long b = x.shape[0], l = x.shape[1];
            var q = q_proj.call(x).view(b, l, _heads, _headSize).transpose(1, 2);
            var k = k_proj.call(x).view(b, l, _kvHeads, _headSize).transpose(1, 2);
            var v = v_proj.call(x).view(b, l, _kvHeads, _headSize).transpose(1, 2);
            q = q * cos + RotateHalf(q) * sin;
            k = k * cos + RotateHalf(k) * sin;
            if (cache is not null) (k, v) = cache.Append(_layer, k, v); // the cache holds the KV heads
            if (_kvHeads != _heads)
            {
                // Each k/v head serves H/KV consecutive query heads.
                k = k.repeat_interleave(_heads / _kvHeads, 1);
                v = v.repeat_interleave(_heads / _kvHeads, 1);
            }
            var y = Attend(q, k, v, attentionMask);
            return o_proj.call(y.transpose(1, 2).reshape(b, l, (long)_heads * _headSize));
        }

        private static Tensor RotateHalf(Tensor x)
        {
            long half = x.shape[^1] / 2;
            return cat(new[] { x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half) }, -1);
        }

        public void Initialize(Generator generator)
        {
            foreach (var p in new[] { q_proj, k_proj, v_proj, o_proj }) Normal(p, 0.02, generator);
        }
    }

    private sealed class LlamaMlp : nn.Module
    {
        private readonly AdaptableLinear gate_proj;
        private readonly AdaptableLinear up_proj;
        private readonly AdaptableLinear down_proj;

        public LlamaMlp(LlamaConfig config) : base("mlp")
        {
            gate_proj = new AdaptableLinear(config.HiddenSize, config.IntermediateSize, hasBias: false, name: "gate_proj");
            up_proj = new AdaptableLinear(config.HiddenSize, config.IntermediateSize, hasBias: false, name: "up_proj");
            down_proj = new AdaptableLinear(config.IntermediateSize, config.HiddenSize, hasBias: false, name: "down_proj");
            RegisterComponents();
        }

        public Tensor Forward(Tensor x) => down_proj.call(nn.functional.silu(gate_proj.call(x)) * up_proj.call(x));

        public void Initialize(Generator generator)
        {
            foreach (var p in new[] { gate_proj, up_proj, down_proj }) Normal(p, 0.02, generator);
        }
    }

    /// <summary>RMSNorm in float32: <c>w · x / √(mean(x²) + ε)</c>.</summary>
    private sealed class RmsNorm : nn.Module<Tensor, Tensor>
    {
        private readonly Parameter weight;
        private readonly double _eps;

        public RmsNorm(long size, double eps) : base("RMSNorm")
        {
            weight = new Parameter(ones(size));
            weight.DetachFromDisposeScope();
            _eps = eps;
            RegisterComponents();
        }

        public void Reset() => weight.fill_(1);

        public override Tensor forward(Tensor x)
        {
            var x32 = x.to_type(ScalarType.Float32);
            var variance = x32.pow(2).mean(new long[] { -1 }, keepdim: true);
            return weight * (x32 * (variance + _eps).rsqrt());
        }
    }
}
