using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students.Pretrained;

/// <summary>
/// The module behind a <see cref="PretrainedCausalLm"/>: its parameters are named as the Hugging Face checkpoint's
/// keys, so a state dict is the checkpoint.
/// </summary>
/// <remarks>
/// Submodule and parameter fields carry the Hugging Face names (<c>c_attn</c>, <c>self_attn</c>, <c>q_proj</c>…)
/// because <c>RegisterComponents</c> registers fields by name; registering them under other names as well would give
/// each parameter two keys.
/// </remarks>
internal abstract class CausalLmNetwork : nn.Module
{
    protected CausalLmNetwork(string name) : base(name)
    {
    }

    /// <summary>
    /// Logits <c>[B, L, V]</c>. Without a cache the positions are 0..L-1 and attention is causal; with one,
    /// <paramref name="positions"/> <c>[B, L]</c> and the attention mask from <see cref="KeyValueCache.Advance"/> apply
    /// and every layer appends its keys and values.
    /// </summary>
    public abstract Tensor Forward(Tensor tokens, Tensor? positions, Tensor? attentionMask, KeyValueCache? cache);

    /// <summary>Random weights in Hugging Face's initialisation (normal with std 0.02, zero biases, unit norms).</summary>
    public abstract void Initialize(Generator generator);

    /// <summary>
    /// The parameter a checkpoint key loads into, or null when the key is a known non-parameter to skip (GPT-2's
    /// causal-mask buffers, a tied head's duplicate, rotary caches); unknown keys are returned unchanged.
    /// </summary>
    public abstract string? ParameterFor(string checkpointKey, ISet<string> parameterNames);

    /// <summary>Writes weights normal(0, std) and zero biases.</summary>
    protected static void Normal(Adapters.AdaptableLinear layer, double std, Generator generator)
    {
        layer.Weight.normal_(0, std, generator);
        layer.Bias?.zero_();
    }

    /// <summary>Attention of <c>[B, H, L, hd]</c> queries over keys and values (already repeated for GQA).</summary>
    protected static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? attentionMask) =>
        attentionMask is null
            ? nn.functional.scaled_dot_product_attention(q, k, v, null, 0, true)
            : nn.functional.scaled_dot_product_attention(q, k, v, attentionMask, 0, false);
}
