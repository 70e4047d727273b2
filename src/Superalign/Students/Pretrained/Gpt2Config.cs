using System.Text.Json.Nodes;

namespace Superalign.Students.Pretrained;

/// <summary>A GPT-2 architecture (<c>model_type</c> gpt2, <c>GPT2LMHeadModel</c>), in config.json's terms.</summary>
/// <param name="VocabSize"><c>vocab_size</c> (at least 2).</param>
/// <param name="NPositions"><c>n_positions</c>: the learned position table's length (at least 1).</param>
/// <param name="NEmbd"><c>n_embd</c>: the residual width D (at least 1, divisible by <paramref name="NHead"/>).</param>
/// <param name="NLayer"><c>n_layer</c> (at least 1).</param>
/// <param name="NHead"><c>n_head</c>, in [1, D].</param>
/// <param name="NInner"><c>n_inner</c>: the MLP width, or null for 4D.</param>
/// <param name="ActivationFunction"><c>activation_function</c>: gelu_new or gelu_pytorch_tanh (tanh approximation), or gelu (erf).</param>
/// <param name="LayerNormEpsilon"><c>layer_norm_epsilon</c> (positive).</param>
/// <param name="TieWordEmbeddings"><c>tie_word_embeddings</c>: the head reuses <c>wte</c> (otherwise <c>lm_head.weight</c> is its own).</param>
public sealed record Gpt2Config(
    int VocabSize,
    int NPositions,
    int NEmbd,
    int NLayer,
    int NHead,
    int? NInner = null,
    string ActivationFunction = "gelu_new",
    double LayerNormEpsilon = 1e-5,
    bool TieWordEmbeddings = true) : PretrainedCausalLmConfig
{
    private static readonly string[] Activations = { "gelu_new", "gelu_pytorch_tanh", "gelu" };

    /// <inheritdoc />
    public override string ModelType => "gpt2";

    /// <inheritdoc />
    public override int VocabularySize => VocabSize;

    /// <inheritdoc />
    public override int MaxSequenceLength => NPositions;

    /// <inheritdoc />
    public override int Layers => NLayer;

    /// <inheritdoc />
    public override bool TiedHead => TieWordEmbeddings;

    /// <summary>The MLP width: <see cref="NInner"/> or 4·<see cref="NEmbd"/>.</summary>
    public int InnerSize => NInner ?? 4 * NEmbd;

    /// <inheritdoc />
    public override void Validate()
    {
        OptionCheck.AtLeast(VocabSize, 2, nameof(VocabSize));
        OptionCheck.AtLeast(NPositions, 1, nameof(NPositions));
        OptionCheck.AtLeast(NEmbd, 1, nameof(NEmbd));
        OptionCheck.AtLeast(NLayer, 1, nameof(NLayer));
        OptionCheck.InRange(NHead, 1, NEmbd, nameof(NHead));
        if (NEmbd % NHead != 0)
            throw new ArgumentOutOfRangeException(nameof(NEmbd), NEmbd, $"{nameof(NEmbd)} must be divisible by {nameof(NHead)} ({NHead}); got {NEmbd}.");
        if (NInner is { } inner) OptionCheck.AtLeast(inner, 1, nameof(NInner));
        if (!Activations.Contains(ActivationFunction))
            throw new ArgumentOutOfRangeException(nameof(ActivationFunction), ActivationFunction, $"{nameof(ActivationFunction)} must be one of {string.Join(", ", Activations)}; got '{ActivationFunction}'.");
        if (!(LayerNormEpsilon > 0 && double.IsFinite(LayerNormEpsilon)))
            throw new ArgumentOutOfRangeException(nameof(LayerNormEpsilon), LayerNormEpsilon, $"{nameof(LayerNormEpsilon)} must be positive and finite; got {LayerNormEpsilon}.");
    }

    /// <inheritdoc />
    public override JsonObject ToJson() => new()
    {
        ["architectures"] = new JsonArray("GPT2LMHeadModel"),
        ["model_type"] = ModelType,
        ["vocab_size"] = VocabSize,
        ["n_positions"] = NPositions,
        ["n_ctx"] = NPositions,
        ["n_embd"] = NEmbd,
        ["n_layer"] = NLayer,
        ["n_head"] = NHead,
        ["n_inner"] = NInner,
        ["activation_function"] = ActivationFunction,
        ["layer_norm_epsilon"] = LayerNormEpsilon,
        ["tie_word_embeddings"] = TieWordEmbeddings,
        ["torch_dtype"] = "float32",
    };

    internal static Gpt2Config FromJson(ConfigReader r)
    {
        if (r.IsSet("scale_attn_by_inverse_layer_idx") && r.Bool("scale_attn_by_inverse_layer_idx", false))
            throw new ArgumentException("config.json sets scale_attn_by_inverse_layer_idx, which is not implemented.");
        if (r.IsSet("reorder_and_upcast_attn") && r.Bool("reorder_and_upcast_attn", false))
            throw new ArgumentException("config.json sets reorder_and_upcast_attn, which is not implemented.");
        if (!r.Bool("scale_attn_weights", true))
            throw new ArgumentException("config.json sets scale_attn_weights false, which is not implemented.");
        return new Gpt2Config(
            r.Int("vocab_size", null),
            r.Int("n_positions", r.OptionalInt("n_ctx")),
            r.Int("n_embd", null),
            r.Int("n_layer", null),
            r.Int("n_head", null),
            r.OptionalInt("n_inner"),
            r.String("activation_function", "gelu_new")!,
            r.Double("layer_norm_epsilon", 1e-5),
            r.Bool("tie_word_embeddings", true));
    }
}
