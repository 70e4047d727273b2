using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students;

/// <summary>Options of a <see cref="TinyCausalLm"/>.</summary>
/// <param name="VocabularySize">Number of token ids (at least 2).</param>
/// <param name="MaxSequenceLength">Longest context the model reads (at least 1); sets the learned position table.</param>
/// <param name="ModelDim">Width of the residual stream (at least 1, divisible by <paramref name="Heads"/>).</param>
/// <param name="Layers">Number of transformer blocks (at least 1).</param>
/// <param name="Heads">Number of attention heads, in [1, ModelDim].</param>
/// <param name="Dropout">Dropout probability (embeddings, attention weights, residual branches), in [0, 1).</param>
/// <param name="Seed">Seed of the initial weights: the same seed gives the same weights on every device.</param>
public sealed record TinyCausalLmOptions(
    int VocabularySize,
    int MaxSequenceLength,
    int ModelDim = 64,
    int Layers = 2,
    int Heads = 4,
    double Dropout = 0,
    long Seed = 0)
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of its range.</summary>
    public void Validate()
    {
        OptionCheck.AtLeast(VocabularySize, 2, nameof(VocabularySize));
        OptionCheck.AtLeast(MaxSequenceLength, 1, nameof(MaxSequenceLength));
        OptionCheck.AtLeast(ModelDim, 1, nameof(ModelDim));
        OptionCheck.AtLeast(Layers, 1, nameof(Layers));
        OptionCheck.InRange(Heads, 1, ModelDim, nameof(Heads));
        if (ModelDim % Heads != 0)
            throw new ArgumentOutOfRangeException(nameof(ModelDim), ModelDim, $"{nameof(ModelDim)} must be divisible by {nameof(Heads)} ({Heads}); got {ModelDim}.");
        OptionCheck.Probability(Dropout, nameof(Dropout));
    }
}

/// <summary>
/// A tiny GPT: token and learned position embeddings, <c>Layers</c> pre-LayerNorm blocks of causal multi-head
/// self-attention (one fused QKV projection per block) and a GELU MLP (<c>d → 4d → d</c>), a final LayerNorm, and an
/// output head tied to the token embedding (<c>logits = h · Wₑᵀ</c>).
/// </summary>
/// <remarks>
/// Weights start GPT-2 style: normal(0, 0.02), residual output projections scaled by <c>1/√(2·Layers)</c>, zero biases.
/// Attention uses the fused <c>scaled_dot_product_attention</c> kernel with <c>is_causal</c>; incremental decoding
/// (<see cref="IncrementalLogits"/>) gathers the learned positions by position id and passes the cache's attention
/// mask to the same kernel instead.
/// </remarks>
public sealed class TinyCausalLm : TorchStudent, IIncrementalLanguageModel
{
    private readonly GptNetwork _network;

    /// <summary>Builds the model (initialised from <see cref="TinyCausalLmOptions.Seed"/>) on <paramref name="device"/>.</summary>
    /// <param name="options">Architecture and initialisation; validated here.</param>
    /// <param name="device">Where the parameters live; null selects <see cref="Devices.Default"/>.</param>
    /// <param name="name">Name used in reports; null derives one from the architecture.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public TinyCausalLm(TinyCausalLmOptions options, Device? device = null, string? name = null)
        : this(Checked(options), device ?? Devices.Default(), name)
    {
    }

    private TinyCausalLm((TinyCausalLmOptions Options, GptNetwork Network) built, Device device, string? name)
        : base(name ?? $"gpt[d{built.Options.ModelDim}-L{built.Options.Layers}-H{built.Options.Heads}-V{built.Options.VocabularySize}]", built.Network, device)
    {
        Options = built.Options;
        _network = built.Network;
    }

    private static (TinyCausalLmOptions, GptNetwork) Checked(TinyCausalLmOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return (options, SeededInit.Build(options.Seed, g => new GptNetwork(options, g)));
    }

    /// <summary>The options the model was built with.</summary>
    public TinyCausalLmOptions Options { get; }

    /// <inheritdoc />
    public int VocabularySize => Options.VocabularySize;

    /// <inheritdoc />
    public int MaxSequenceLength => Options.MaxSequenceLength;

    /// <summary>The token embedding <c>[V, d]</c>, which is also the output head's weight.</summary>
    public Parameter TokenEmbedding => _network.TokenEmbedding;

    /// <summary>Final (layer-normalised) hidden states <c>[B, L, ModelDim]</c> for tokens <c>[B, L]</c>.</summary>
    /// <exception cref="ArgumentException">The tokens are not int64 <c>[B, L]</c> with 1 ≤ L ≤ <see cref="MaxSequenceLength"/>.</exception>
    public Tensor HiddenStates(Tensor tokens)
    {
        CheckTokens(tokens);
        return _network.Hidden(tokens);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The tokens are not int64 <c>[B, L]</c> with 1 ≤ L ≤ <see cref="MaxSequenceLength"/>.</exception>
    public Tensor TokenLogits(Tensor tokens)
    {
        CheckTokens(tokens);
        return _network.call(tokens);
    }

    /// <summary>Next-token logits <c>[B, L - 1, V]</c> for a <see cref="ResponseBatch.ForCausalLm"/> batch.</summary>
    public override Tensor Logits(ResponseBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return TokenLogits(batch.Inputs);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not in [1, MaxSequenceLength].</exception>
    public KeyValueCache CreateCache(long batch, long capacity)
    {
        OptionCheck.InRange(capacity, 1, MaxSequenceLength, nameof(capacity));
        return new KeyValueCache(Options.Layers, batch, capacity, Device);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The tokens or positions are not int64 <c>[B, L]</c> of the same shape, or the
    /// cache was not made by a model of this shape for B rows.</exception>
    public Tensor IncrementalLogits(Tensor tokens, Tensor positions, Tensor? attentionMask, KeyValueCache cache)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(positions);
        ArgumentNullException.ThrowIfNull(cache);
        if (tokens.dim() != 2 || tokens.dtype != ScalarType.Int64 || tokens.shape[1] < 1)
            throw new ArgumentException($"tokens must be int64 [B, L] with L >= 1; got {tokens.dtype} [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        if (positions.dtype != ScalarType.Int64 || !positions.shape.SequenceEqual(tokens.shape))
            throw new ArgumentException($"positions must be int64 [{string.Join(", ", tokens.shape)}] like the tokens; got {positions.dtype} [{string.Join(", ", positions.shape)}].", nameof(positions));
        if (cache.Layers != Options.Layers || cache.Batch != tokens.shape[0])
            throw new ArgumentException($"The cache has {cache.Layers} layers and {cache.Batch} rows; this model has {Options.Layers} layers and the tokens {tokens.shape[0]} rows.", nameof(cache));
        return _network.Incremental(tokens, positions, attentionMask, cache);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Runs in evaluation mode under <c>no_grad</c> (the training mode is restored afterwards). When the prompt and
    /// all generated tokens but the last fit the context (<c>P + MaxNewTokens − 1 ≤ MaxSequenceLength</c>) it decodes
    /// with a KV cache through <see cref="LanguageModelGeneration.Generate"/>: the prompt in one forward, then one
    /// position per token. Otherwise the context slides: each step re-reads the last <see cref="MaxSequenceLength"/>
    /// tokens with <see cref="TokenLogits"/> (no cache; learned positions cannot continue past the table). Both paths
    /// pick tokens alike: temperature 0 or top-k 1 decode greedily; otherwise tokens are drawn with
    /// <c>multinomial</c> after temperature, top-k and top-p from a generator seeded by
    /// <see cref="GenerationOptions.Seed"/> (or the global one). Each step's intermediates are disposed; the only
    /// tensor left is the result.
    /// </remarks>
    /// <exception cref="ArgumentException">The prompts are not int64 <c>[B, P]</c> with P ≥ 1.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public Tensor Generate(Tensor prompts, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        if (prompts.dim() != 2 || prompts.shape[1] < 1 || prompts.dtype != ScalarType.Int64)
            throw new ArgumentException($"prompts must be int64 [B, P] with P >= 1; got {prompts.dtype} [{string.Join(", ", prompts.shape)}].", nameof(prompts));
        options.Validate(VocabularySize);
        long promptLength = prompts.shape[1], steps = options.MaxNewTokens;
        return promptLength + steps - 1 <= MaxSequenceLength
            ? LanguageModelGeneration.Generate(this, prompts, null, options)
            : GenerateWithoutCache(prompts, options);
    }

    /// <summary>
    /// Cache-free decoding that re-reads at most the last <see cref="MaxSequenceLength"/> tokens per step (the path
    /// <see cref="Generate"/> takes when the cache cannot hold the sequence; the benchmarks' baseline).
    /// </summary>
    /// <remarks>Options validated by the caller.</remarks>
    internal Tensor GenerateWithoutCache(Tensor prompts, GenerationOptions options)
    {
        long batch = prompts.shape[0], promptLength = prompts.shape[1], steps = options.MaxNewTokens;
        bool wasTraining = Module.training;
        Module.eval();
        try
        {
            using var _ = no_grad();
            using var selector = new TokenSelector(options, VocabularySize, batch, Device);
            // One buffer holds prompt and continuation; each step writes its column in place.
            var sequence = empty(new[] { batch, promptLength + steps }, ScalarType.Int64, Device);
            using (var init = NewDisposeScope())
                sequence.narrow(1, 0, promptLength).copy_(prompts);
            for (long t = 0; t < steps; t++)
            {
                using var step = NewDisposeScope();
                long length = promptLength + t, window = Math.Min(length, MaxSequenceLength);
                var logits = _network.call(sequence.narrow(1, length - window, window)).select(1, window - 1);
                sequence.narrow(1, length, 1).copy_(selector.Select(logits));
                if (selector.Stops && selector.AllStopped())
                {
                    selector.FillRest(sequence.narrow(1, length + 1, steps - t - 1)); // every row has stopped
                    break;
                }
            }
            using (sequence)
            using (var continuation = sequence.narrow(1, promptLength, steps))
                return continuation.clone();
        }
        finally
        {
            Module.train(wasTraining);
        }
    }

    /// <summary>The options as JSON: what <see cref="StudentFiles.Open"/> rebuilds this student from.</summary>
    public override string? Configuration => System.Text.Json.JsonSerializer.Serialize(Options);

    /// <inheritdoc />
    protected override TorchStudent CreateSibling() => new TinyCausalLm(Options, Device, Name);

    private void CheckTokens(Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.dim() != 2 || tokens.dtype != ScalarType.Int64 || tokens.shape[1] < 1 || tokens.shape[1] > MaxSequenceLength)
            throw new ArgumentException(
                $"tokens must be int64 [B, L] with 1 <= L <= {MaxSequenceLength} (MaxSequenceLength); got {tokens.dtype} [{string.Join(", ", tokens.shape)}].",
                nameof(tokens));
    }

    /// <summary>Embeddings, blocks, final norm; the head reuses the token embedding.</summary>
    private sealed class GptNetwork : nn.Module<Tensor, Tensor>
    {
        private readonly Embedding tokenEmbedding;
        private readonly Parameter positionEmbedding;
        private readonly Dropout dropout;
        private readonly ModuleList<Block> blocks;
        private readonly LayerNorm finalNorm;
        private readonly bool _useDropout;

        public GptNetwork(TinyCausalLmOptions options, Generator generator) : base(nameof(TinyCausalLm))
        {
            const double std = 0.02;
            tokenEmbedding = nn.Embedding(options.VocabularySize, options.ModelDim);
            tokenEmbedding.weight!.normal_(0, std, generator);
            // A bare Parameter (unlike a module's) belongs to the caller's dispose scope: detach it, the module owns it.
            positionEmbedding = new Parameter(empty(options.MaxSequenceLength, options.ModelDim).normal_(0, std, generator));
            positionEmbedding.DetachFromDisposeScope();
            dropout = nn.Dropout(options.Dropout);
            blocks = new ModuleList<Block>();
            for (int i = 0; i < options.Layers; i++) blocks.Add(new Block(options, generator));
            finalNorm = nn.LayerNorm(options.ModelDim);
            _useDropout = options.Dropout > 0;
            RegisterComponents();
        }

        public Parameter TokenEmbedding => tokenEmbedding.weight!;

        public Tensor Hidden(Tensor tokens)
        {
            var x = tokenEmbedding.call(tokens) + positionEmbedding.narrow(0, 0, tokens.shape[1]);
            if (_useDropout) x = dropout.call(x);
            foreach (var block in blocks) x = block.call(x);
            return finalNorm.call(x);
        }

        // Tied head: logits = h · Wₑᵀ, with no parameter of its own.
        public override Tensor forward(Tensor tokens) => nn.functional.linear(Hidden(tokens), tokenEmbedding.weight!);

        // The same network over new tokens at given positions, attending to the cache's earlier keys and values.
        public Tensor Incremental(Tensor tokens, Tensor positions, Tensor? attentionMask, KeyValueCache cache)
        {
            long b = tokens.shape[0], l = tokens.shape[1];
            var mask = cache.Advance(attentionMask, l);
            var x = tokenEmbedding.call(tokens) + positionEmbedding.index_select(0, positions.reshape(-1)).view(b, l, -1);
            if (_useDropout) x = dropout.call(x);
            int layer = 0;
            foreach (var block in blocks) x = block.Incremental(x, mask, cache, layer++);
            return nn.functional.linear(finalNorm.call(x), tokenEmbedding.weight!);
        }
    }

    /// <summary>Pre-LayerNorm block: x + Attn(LN(x)), then x + MLP(LN(x)).</summary>
    private sealed class Block : nn.Module<Tensor, Tensor>
    {
        private readonly LayerNorm attentionNorm;
        private readonly Linear qkv;
        private readonly Linear attentionOut;
        private readonly LayerNorm mlpNorm;
        private readonly Linear mlpIn;
        private readonly Linear mlpOut;
        private readonly Dropout dropout;
        private readonly int _heads;
        private readonly double _dropout;

        public Block(TinyCausalLmOptions options, Generator generator) : base(nameof(Block))
        {
            const double std = 0.02;
            double residualStd = std / Math.Sqrt(2.0 * options.Layers);
            int d = options.ModelDim;
            attentionNorm = nn.LayerNorm(d);
            qkv = nn.Linear(d, 3 * d); // fused Q, K, V: one matmul and one parameter tensor instead of three
            attentionOut = nn.Linear(d, d);
            mlpNorm = nn.LayerNorm(d);
            mlpIn = nn.Linear(d, 4 * d);
            mlpOut = nn.Linear(4 * d, d);
            SeededInit.Normal(qkv, std, generator);
            SeededInit.Normal(attentionOut, residualStd, generator);
            SeededInit.Normal(mlpIn, std, generator);
            SeededInit.Normal(mlpOut, residualStd, generator);
            dropout = nn.Dropout(options.Dropout);
            _heads = options.Heads;
            _dropout = options.Dropout;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            x = x + Residual(Attention(attentionNorm.call(x)));
            return x + Residual(mlpOut.call(mlpIn.call(mlpNorm.call(x)).gelu()));
        }

        public Tensor Incremental(Tensor x, Tensor mask, KeyValueCache cache, int layer)
        {
            x = x + Residual(CachedAttention(attentionNorm.call(x), mask, cache, layer));
            return x + Residual(mlpOut.call(mlpIn.call(mlpNorm.call(x)).gelu()));
        }

        private Tensor Residual(Tensor branch) => _dropout > 0 ? dropout.call(branch) : branch;

        private Tensor Attention(Tensor x)
        {
            long b = x.shape[0], l = x.shape[1], d = x.shape[2];
            // [B, L, 3d] → [3, B, H, L, d/H]
            var parts = qkv.call(x).view(b, l, 3, _heads, d / _heads).permute(2, 0, 3, 1, 4);
            // Positional arguments: TorchSharp 0.107 spells the causal flag "is_casual".
            var y = nn.functional.scaled_dot_product_attention(parts[0], parts[1], parts[2], null, training ? _dropout : 0, true);
            return attentionOut.call(y.transpose(1, 2).reshape(b, l, d));
        }

        private Tensor CachedAttention(Tensor x, Tensor mask, KeyValueCache cache, int layer)
        {
            long b = x.shape[0], l = x.shape[1], d = x.shape[2];
            var parts = qkv.call(x).view(b, l, 3, _heads, d / _heads).permute(2, 0, 3, 1, 4);
            var (keys, values) = cache.Append(layer, parts[1], parts[2]);
            // The cache's mask is causal over absolute positions and hides padding, so is_causal is off.
            var y = nn.functional.scaled_dot_product_attention(parts[0], keys, values, mask, training ? _dropout : 0, false);
            return attentionOut.call(y.transpose(1, 2).reshape(b, l, d));
        }
    }
}
