using System.Text.Json;
using System.Text.Json.Nodes;
using Superalign.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students.Pretrained;

/// <summary>
/// A pretrained causal language model in the Hugging Face layout — GPT-2, Llama, Qwen2 or Mistral — as a student:
/// read from a directory with <c>config.json</c> and safetensors weights (<see cref="FromPretrained"/>), written back in the same
/// layout (<see cref="SaveHuggingFace"/>), or built with random weights from a configuration (<see cref="CreateRandom"/>).
/// </summary>
/// <remarks>
/// Parameters are named exactly as the checkpoint's keys (<c>transformer.h.0.attn.c_attn.weight</c>,
/// <c>model.layers.0.self_attn.q_proj.weight</c>, …), and every projection is an
/// <see cref="Adapters.AdaptableLinear"/> (GPT-2's Conv1D as fan-in-fan-out), where adapters attach. Weights stored in
/// bf16 or fp16 are converted to float32, and the model computes in float32. There is no dropout. Incremental decoding
/// uses a <see cref="KeyValueCache"/> holding the key/value heads (repeated for grouped-query attention after reading).
/// Checkpoints of <see cref="TorchStudent.Save"/> keep working, and <see cref="StudentFiles.Open"/> rebuilds the
/// student from its <see cref="Configuration"/>.
/// </remarks>
public sealed class PretrainedCausalLm : TorchStudent, IIncrementalLanguageModel
{
    private const string ConfigFile = "config.json";
    private readonly CausalLmNetwork _network;
    private readonly JsonObject? _sourceConfig; // the config.json read, whose other keys (token ids…) SaveHuggingFace keeps

    private PretrainedCausalLm(PretrainedCausalLmConfig config, CausalLmNetwork network, Device device, string name, JsonObject? sourceConfig = null)
        : base(name, network, device)
    {
        Config = config;
        _network = network;
        _sourceConfig = sourceConfig;
    }

    /// <summary>The architecture.</summary>
    public PretrainedCausalLmConfig Config { get; }

    /// <inheritdoc />
    public int VocabularySize => Config.VocabularySize;

    /// <inheritdoc />
    public int MaxSequenceLength => Config.MaxSequenceLength;

    /// <summary>The configuration as config.json text: what <see cref="StudentFiles.Open"/> rebuilds this student from.</summary>
    public override string? Configuration => Config.ToJson().ToJsonString();

    /// <summary>
    /// Reads the model in <paramref name="directory"/>: <c>config.json</c> and <c>model.safetensors</c> (or the shards
    /// of <c>model.safetensors.index.json</c>). All or nothing: every parameter must be in the files with its shape,
    /// and every tensor in the files must be a parameter (GPT-2's legacy <c>attn.bias</c>/<c>attn.masked_bias</c>
    /// buffers, a tied head's duplicate <c>lm_head.weight</c> and Llama's <c>rotary_emb.inv_freq</c> are skipped).
    /// </summary>
    /// <param name="directory">The checkpoint directory.</param>
    /// <param name="device">Where the parameters live; null selects <see cref="Devices.Default"/>.</param>
    /// <param name="name">Name used in reports; null uses the directory's name.</param>
    /// <exception cref="DirectoryNotFoundException">No such directory.</exception>
    /// <exception cref="CheckpointException">config.json is missing or unsupported (an unknown <c>model_type</c>, an
    /// unimplemented <c>rope_scaling</c>…), a file is not valid safetensors, or a tensor is missing, unexpected or
    /// mis-shaped; the message names the file, the key and, for shapes, the expected and found ones.</exception>
    public static PretrainedCausalLm FromPretrained(string directory, Device? device = null, string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"No model directory '{directory}'.");
        string configPath = Path.Combine(directory, ConfigFile);
        if (!File.Exists(configPath))
            throw new CheckpointException(directory, ConfigFile, "the directory has no config.json.");
        PretrainedCausalLmConfig config;
        string configText = File.ReadAllText(configPath);
        try
        {
            config = PretrainedCausalLmConfig.Parse(configText);
        }
        catch (ArgumentException e)
        {
            throw new CheckpointException(configPath, e is ArgumentOutOfRangeException range ? range.ParamName : null, e.Message, e);
        }
        var network = Build(config, seed: null);
        try
        {
            var tensors = Safetensors.LoadDirectory(directory);
            try
            {
                CopyInto(network, tensors, directory);
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
            return new PretrainedCausalLm(config, network, device ?? Devices.Default(),
                name ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory))), JsonNode.Parse(configText) as JsonObject);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A model of <paramref name="config"/>'s architecture with random weights (Hugging Face's initialisation: normal
    /// with standard deviation 0.02, zero biases, unit norms), the same for the same seed on every device; the global
    /// random stream is neither read nor advanced.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The configuration is out of range (the exception names the option).</exception>
    public static PretrainedCausalLm CreateRandom(PretrainedCausalLmConfig config, long seed = 0, Device? device = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        return new PretrainedCausalLm(config, Build(config, seed), device ?? Devices.Default(), name ?? DefaultName(config));
    }

    /// <summary>Rebuilds a student from its <see cref="Configuration"/> (weights to be loaded afterwards).</summary>
    internal static PretrainedCausalLm FromConfiguration(string json, Device? device)
    {
        var config = PretrainedCausalLmConfig.Parse(json);
        return new PretrainedCausalLm(config, Build(config, seed: null), device ?? Devices.Default(), DefaultName(config));
    }

    /// <summary>
    /// Writes the model to <paramref name="directory"/> in the Hugging Face layout: <c>config.json</c> (the architecture's
    /// keys, over the other keys of the config.json it was read from, such as token ids) and
    /// <c>model.safetensors</c> (float32, <c>__metadata__</c> format pt, keys as the parameters' names; a tied head has
    /// no <c>lm_head.weight</c>), which PyTorch/transformers and <see cref="FromPretrained"/> read.
    /// </summary>
    public void SaveHuggingFace(string directory)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        using var scope = NewDisposeScope();
        Safetensors.Save(Path.Combine(directory, Safetensors.ModelFile), _network.state_dict());
        var json = _sourceConfig?.DeepClone().AsObject() ?? new JsonObject();
        foreach (var (key, value) in Config.ToJson()) json[key] = value?.DeepClone();
        File.WriteAllText(Path.Combine(directory, ConfigFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The tokens are not int64 <c>[B, L]</c> with 1 ≤ L ≤ <see cref="MaxSequenceLength"/>.</exception>
    public Tensor TokenLogits(Tensor tokens)
    {
        ThrowIfDisposed();
        CheckTokens(tokens, nameof(tokens));
        return _network.Forward(tokens, null, null, null);
    }

    /// <summary>Next-token logits <c>[B, L - 1, V]</c> for a <see cref="ResponseBatch.ForCausalLm"/> batch.</summary>
    public override Tensor Logits(ResponseBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return TokenLogits(batch.Inputs);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> exceeds <see cref="MaxSequenceLength"/> or a size is below 1.</exception>
    public KeyValueCache CreateCache(long batch, long capacity)
    {
        ThrowIfDisposed();
        OptionCheck.InRange(capacity, 1, MaxSequenceLength, nameof(capacity));
        return new KeyValueCache(Config.Layers, batch, capacity, Device);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">Tokens or positions are not int64 <c>[B, L]</c>, or the cache is not this model's.</exception>
    public Tensor IncrementalLogits(Tensor tokens, Tensor positions, Tensor? attentionMask, KeyValueCache cache)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(positions);
        ArgumentNullException.ThrowIfNull(cache);
        CheckTokens(tokens, nameof(tokens));
        if (positions.dtype != ScalarType.Int64 || !positions.shape.SequenceEqual(tokens.shape))
            throw new ArgumentException($"positions must be int64 [{string.Join(", ", tokens.shape)}] (the shape of tokens); got {positions.dtype} [{string.Join(", ", positions.shape)}].", nameof(positions));
        if (cache.Layers != Config.Layers || cache.Batch != tokens.shape[0])
            throw new ArgumentException($"The cache has {cache.Layers} layers and {cache.Batch} rows; this model has {Config.Layers} layers and the tokens {tokens.shape[0]} rows (use CreateCache).", nameof(cache));
        var mask = cache.Advance(attentionMask, tokens.shape[1]);
        return _network.Forward(tokens, positions, mask, cache);
    }

    /// <inheritdoc />
    /// <remarks>
    /// <see cref="LanguageModelGeneration.Generate"/> with a <see cref="KeyValueCache"/>: the prompt in one forward,
    /// then one position per token, in evaluation mode under <c>no_grad</c> (the training mode is restored). For
    /// prompts of different lengths call it directly with a left-padding mask (<see cref="LanguageModelGeneration.LeftPad"/>).
    /// </remarks>
    /// <exception cref="ArgumentException">The prompts are not int64 <c>[B, P]</c> with P ≥ 1.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range, or the prompt and the new tokens do not fit <see cref="MaxSequenceLength"/>.</exception>
    public Tensor Generate(Tensor prompts, GenerationOptions options)
    {
        ThrowIfDisposed();
        CheckTokens(prompts, nameof(prompts));
        return LanguageModelGeneration.Generate(this, prompts, null, options);
    }

    /// <inheritdoc />
    /// <remarks>The sibling has this architecture with placeholder weights; <see cref="TorchStudent.Clone"/> copies the weights in.</remarks>
    protected override TorchStudent CreateSibling() => new PretrainedCausalLm(Config, Build(Config, seed: null), Device, Name, _sourceConfig);

    private static string DefaultName(PretrainedCausalLmConfig config) => config switch
    {
        Gpt2Config g => $"gpt2[d{g.NEmbd}-L{g.NLayer}-H{g.NHead}-V{g.VocabSize}]",
        LlamaConfig l => $"{l.Family}[d{l.HiddenSize}-L{l.NumHiddenLayers}-H{l.NumAttentionHeads}/{l.NumKeyValueHeads}-V{l.VocabSize}]",
        _ => config.ModelType,
    };

    private static CausalLmNetwork Build(PretrainedCausalLmConfig config, long? seed) =>
        SeededInit.Build(seed ?? 0, generator =>
        {
            CausalLmNetwork network = config switch
            {
                Gpt2Config g => new Gpt2Network(g),
                LlamaConfig l => new LlamaNetwork(l),
                _ => throw new ArgumentException($"No network for model_type '{config.ModelType}'.", nameof(config)),
            };
            if (seed is not null) network.Initialize(generator);
            return network;
        });

    /// <summary>Checks every key, shape and dtype, then copies (converting to float32): all or nothing.</summary>
    private static void CopyInto(CausalLmNetwork network, Dictionary<string, Tensor> tensors, string directory)
    {
        var target = network.state_dict();
        var names = new HashSet<string>(target.Keys, StringComparer.Ordinal);
        var mapped = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, tensor) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            string? parameter = network.ParameterFor(key, names);
            if (parameter is null) continue;
            if (!target.TryGetValue(parameter, out var expected))
                throw new CheckpointException(directory, key, $"unexpected: a {network.GetName()} of this config.json has no such parameter.");
            if (!mapped.TryAdd(parameter, tensor))
                throw new CheckpointException(directory, key, $"the checkpoint holds '{parameter}' twice (with and without the 'transformer.' prefix).");
            if (!expected.shape.SequenceEqual(tensor.shape))
                throw new CheckpointException(directory, key, $"expected shape [{string.Join(", ", expected.shape)}], found [{string.Join(", ", tensor.shape)}].");
            if (!tensor.is_floating_point())
                throw new CheckpointException(directory, key, $"expected a floating-point tensor, found {tensor.dtype}.");
        }
        var missing = target.Keys.Where(k => !mapped.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            throw new CheckpointException(directory, missing[0],
                $"missing: the checkpoint lacks {missing.Count} parameter(s) of this config.json's {network.GetName()} ({string.Join(", ", missing.Take(5))}).");
        using var _ = no_grad();
        foreach (var (key, value) in mapped) target[key].copy_(value);
    }

    private void CheckTokens(Tensor tokens, string parameter)
    {
        ArgumentNullException.ThrowIfNull(tokens, parameter);
        if (tokens.dim() != 2 || tokens.dtype != ScalarType.Int64 || tokens.shape[1] < 1 || tokens.shape[1] > MaxSequenceLength)
            throw new ArgumentException(
                $"{parameter} must be int64 [B, L] with 1 <= L <= {MaxSequenceLength} (MaxSequenceLength); got {tokens.dtype} [{string.Join(", ", tokens.shape)}].",
                parameter);
    }
}
