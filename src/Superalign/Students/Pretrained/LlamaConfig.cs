using System.Text.Json.Nodes;

namespace Superalign.Students.Pretrained;

/// <summary>
/// A Llama-family architecture (<c>model_type</c> llama, qwen2 or mistral), in config.json's terms: RMSNorm, rotary
/// positions (Hugging Face's rotate-half convention), SwiGLU MLP and grouped-query attention.
/// </summary>
/// <param name="Family"><c>model_type</c>: llama, qwen2 or mistral. Qwen2 always has q/k/v biases and no o_proj bias.</param>
/// <param name="VocabSize"><c>vocab_size</c> (at least 2).</param>
/// <param name="HiddenSize"><c>hidden_size</c> D (at least 1).</param>
/// <param name="IntermediateSize"><c>intermediate_size</c> of the MLP (at least 1).</param>
/// <param name="NumHiddenLayers"><c>num_hidden_layers</c> (at least 1).</param>
/// <param name="NumAttentionHeads"><c>num_attention_heads</c> H (at least 1).</param>
/// <param name="NumKeyValueHeads"><c>num_key_value_heads</c> KV (in [1, H], dividing H).</param>
/// <param name="MaxPositionEmbeddings"><c>max_position_embeddings</c> (at least 1).</param>
/// <param name="HeadDim"><c>head_dim</c>, or null for D / H (even).</param>
/// <param name="RopeTheta"><c>rope_theta</c> (positive).</param>
/// <param name="RmsNormEps"><c>rms_norm_eps</c> (positive).</param>
/// <param name="TieWordEmbeddings"><c>tie_word_embeddings</c>: the head reuses <c>embed_tokens</c>.</param>
/// <param name="AttentionBias"><c>attention_bias</c> (Llama, Mistral): q/k/v/o projections have biases.</param>
/// <param name="SlidingWindow">Mistral's (or Qwen2's, when <c>use_sliding_window</c>) window; the model then reads at most this many positions.</param>
public sealed record LlamaConfig(
    string Family,
    int VocabSize,
    int HiddenSize,
    int IntermediateSize,
    int NumHiddenLayers,
    int NumAttentionHeads,
    int NumKeyValueHeads,
    int MaxPositionEmbeddings,
    int? HeadDim = null,
    double RopeTheta = 10000,
    double RmsNormEps = 1e-6,
    bool TieWordEmbeddings = false,
    bool AttentionBias = false,
    int? SlidingWindow = null) : PretrainedCausalLmConfig
{
    private static readonly string[] Families = { "llama", "qwen2", "mistral" };

    /// <inheritdoc />
    public override string ModelType => Family;

    /// <inheritdoc />
    public override int VocabularySize => VocabSize;

    /// <inheritdoc />
    public override int MaxSequenceLength => SlidingWindow is { } w ? Math.Min(w, MaxPositionEmbeddings) : MaxPositionEmbeddings;

    /// <inheritdoc />
    public override int Layers => NumHiddenLayers;

    /// <inheritdoc />
    public override bool TiedHead => TieWordEmbeddings;

    /// <summary>Width of one attention head: <see cref="HeadDim"/> or D / H.</summary>
    public int HeadSize => HeadDim ?? HiddenSize / NumAttentionHeads;

    /// <summary>Whether q, k and v projections have biases (always for Qwen2).</summary>
    public bool QkvBias => Family == "qwen2" || AttentionBias;

    /// <summary>Whether the output projection has a bias (never for Qwen2).</summary>
    public bool OutputBias => Family != "qwen2" && AttentionBias;

    /// <inheritdoc />
    public override void Validate()
    {
        if (!Families.Contains(Family))
            throw new ArgumentOutOfRangeException(nameof(Family), Family, $"{nameof(Family)} must be one of {string.Join(", ", Families)}; got '{Family}'.");
        OptionCheck.AtLeast(VocabSize, 2, nameof(VocabSize));
        OptionCheck.AtLeast(HiddenSize, 1, nameof(HiddenSize));
        OptionCheck.AtLeast(IntermediateSize, 1, nameof(IntermediateSize));
        OptionCheck.AtLeast(NumHiddenLayers, 1, nameof(NumHiddenLayers));
        OptionCheck.AtLeast(NumAttentionHeads, 1, nameof(NumAttentionHeads));
        OptionCheck.InRange(NumKeyValueHeads, 1, NumAttentionHeads, nameof(NumKeyValueHeads));
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw new ArgumentOutOfRangeException(nameof(NumKeyValueHeads), NumKeyValueHeads, $"{nameof(NumKeyValueHeads)} must divide {nameof(NumAttentionHeads)} ({NumAttentionHeads}); got {NumKeyValueHeads}.");
        OptionCheck.AtLeast(MaxPositionEmbeddings, 1, nameof(MaxPositionEmbeddings));
        if (HeadDim is null && HiddenSize % NumAttentionHeads != 0)
            throw new ArgumentOutOfRangeException(nameof(HiddenSize), HiddenSize, $"{nameof(HiddenSize)} must be divisible by {nameof(NumAttentionHeads)} ({NumAttentionHeads}) when {nameof(HeadDim)} is not set; got {HiddenSize}.");
        if (HeadSize < 2 || HeadSize % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(HeadDim), HeadSize, $"The head width ({nameof(HeadDim)} or {nameof(HiddenSize)}/{nameof(NumAttentionHeads)}) must be even and at least 2 for rotary positions; got {HeadSize}.");
        if (!(RopeTheta > 0 && double.IsFinite(RopeTheta)))
            throw new ArgumentOutOfRangeException(nameof(RopeTheta), RopeTheta, $"{nameof(RopeTheta)} must be positive and finite; got {RopeTheta}.");
        if (!(RmsNormEps > 0 && double.IsFinite(RmsNormEps)))
            throw new ArgumentOutOfRangeException(nameof(RmsNormEps), RmsNormEps, $"{nameof(RmsNormEps)} must be positive and finite; got {RmsNormEps}.");
        if (SlidingWindow is { } w) OptionCheck.AtLeast(w, 1, nameof(SlidingWindow));
    }

    /// <inheritdoc />
    public override JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(Family switch { "qwen2" => "Qwen2ForCausalLM", "mistral" => "MistralForCausalLM", _ => "LlamaForCausalLM" }),
            ["model_type"] = Family,
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["rope_theta"] = RopeTheta,
            ["rms_norm_eps"] = RmsNormEps,
            ["hidden_act"] = "silu",
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["rope_scaling"] = null,
            ["torch_dtype"] = "float32",
        };
        if (HeadDim is { } hd) json["head_dim"] = hd;
        if (Family != "qwen2") json["attention_bias"] = AttentionBias;
        if (Family == "mistral") json["sliding_window"] = SlidingWindow;
        if (Family == "qwen2")
        {
            json["use_sliding_window"] = SlidingWindow is not null;
            json["sliding_window"] = SlidingWindow;
        }
        return json;
    }

    internal static LlamaConfig FromJson(string family, ConfigReader r)
    {
        if (r.IsSet("rope_scaling"))
        {
            var scaling = r.Root["rope_scaling"] as JsonObject;
            string? kind = (scaling?["rope_type"] ?? scaling?["type"])?.ToJsonString().Trim('"');
            if (kind != "default")
                throw new ArgumentException($"config.json's rope_scaling {r.Raw("rope_scaling")} is not implemented (only none or rope_type \"default\").");
        }
        string act = r.String("hidden_act", "silu")!;
        if (act != "silu")
            throw new ArgumentException($"config.json's hidden_act '{act}' is not implemented (only silu).");
        if (r.Bool("mlp_bias", false))
            throw new ArgumentException("config.json sets mlp_bias, which is not implemented.");
        int heads = r.Int("num_attention_heads", null);
        int? window = family switch
        {
            "mistral" => r.OptionalInt("sliding_window"),
            "qwen2" when r.Bool("use_sliding_window", false) => r.OptionalInt("sliding_window"),
            _ => null,
        };
        return new LlamaConfig(
            family,
            r.Int("vocab_size", null),
            r.Int("hidden_size", null),
            r.Int("intermediate_size", null),
            r.Int("num_hidden_layers", null),
            heads,
            r.Int("num_key_value_heads", heads),
            r.Int("max_position_embeddings", null),
            r.OptionalInt("head_dim"),
            r.Double("rope_theta", 1e4),
            r.Double("rms_norm_eps", 1e-6),
            r.Bool("tie_word_embeddings", false),
            family != "qwen2" && r.Bool("attention_bias", false),
            window);
    }
}
