namespace Superalign.Benchmarks;

/// <summary>The work in one training step of a benchmark fixture: examples, tokens and FLOPs.</summary>
/// <param name="Examples">Sequences or examples the step trains on (a DPO step: 2 × pairs).</param>
/// <param name="Tokens">Scored positions the forward pass covers (examples × positions).</param>
/// <param name="Flops">Training FLOPs: forward + backward ≈ 3 × forward, matmuls only.</param>
public sealed record StepCost(long Examples, long Tokens, double Flops)
{
    /// <summary>Classes of the MLP fixtures.</summary>
    public const int MlpClasses = 8;

    /// <summary>Vocabulary of the LM fixtures.</summary>
    public const int LmVocabulary = 64;

    /// <summary>Batch of the MLP fixtures.</summary>
    public const int MlpBatch = 256;

    /// <summary>Preference pairs per LM step; a competence step trains on 2 × this many sequences.</summary>
    public const int LmPairs = 16;

    /// <summary>Vocabulary of the GPT-2-shaped fixture (GPT-2's own).</summary>
    public const int Gpt2Vocabulary = 50257;

    /// <summary>Learned positions of the GPT-2-shaped fixture (GPT-2's <c>n_positions</c>).</summary>
    public const int Gpt2Positions = 1024;

    /// <summary>Preference pairs per GPT-2-shaped step; a competence step trains on 2 × this many sequences.</summary>
    public const int Gpt2Pairs = 4;

    /// <summary>Parses an MLP shape <c>FxWxD</c> (features × width × depth).</summary>
    public static (int Features, int Width, int Depth) ParseMlp(string shape)
    {
        var p = shape.Split('x').Select(int.Parse).ToArray();
        return (p[0], p[1], p[2]);
    }

    /// <summary>Parses an LM shape <c>dD-LL-TT</c> (width, layers, sequence length).</summary>
    public static (int Dim, int Layers, int Seq) ParseLm(string shape)
    {
        var p = shape.Split('-').Select(s => int.Parse(s[1..])).ToArray();
        return (p[0], p[1], p[2]);
    }

    /// <summary>
    /// An MLP step on <see cref="MlpBatch"/> examples (a DPO step scores both responses of one input with one forward
    /// pass, so both kinds of step cost the same): 6 × multiply-accumulates per example.
    /// </summary>
    public static StepCost Mlp(string shape)
    {
        var (f, w, d) = ParseMlp(shape);
        long macs = (long)f * w + (long)(d - 1) * w * w + (long)w * MlpClasses;
        return new StepCost(MlpBatch, MlpBatch, 6.0 * macs * MlpBatch);
    }

    /// <summary>
    /// An LM step on 2 × <see cref="LmPairs"/> sequences of T − 1 predicted positions. Per token, training FLOPs are
    /// 6N + 12·L·d·T (PaLM's accounting; N = 12·L·d² matmul weights in the blocks + the V·d tied head).
    /// </summary>
    public static StepCost Lm(string shape) => Lm(shape, LmVocabulary, LmPairs);

    /// <summary>The GPT-2-shaped step: as <see cref="Lm(string)"/> with GPT-2's vocabulary and <see cref="Gpt2Pairs"/> pairs
    /// (the position table is an embedding lookup: no matmul FLOPs).</summary>
    public static StepCost Gpt2(string shape) => Lm(shape, Gpt2Vocabulary, Gpt2Pairs);

    private static StepCost Lm(string shape, int vocabulary, int pairs)
    {
        var (d, layers, t) = ParseLm(shape);
        double n = 12.0 * layers * d * d + (double)vocabulary * d;
        long sequences = 2L * pairs, tokens = sequences * (t - 1);
        return new StepCost(sequences, tokens, tokens * (6.0 * n + 12.0 * layers * d * t));
    }

    /// <summary>The cost of a step of <paramref name="model"/> (<c>mlp</c>, <c>lm</c> or <c>gpt2</c>) at <paramref name="shape"/>.</summary>
    public static StepCost Of(string model, string shape) => model switch
    {
        "mlp" => Mlp(shape),
        "lm" => Lm(shape),
        "gpt2" => Gpt2(shape),
        _ => throw new ArgumentException($"Unknown model '{model}' (mlp, lm or gpt2).", nameof(model)),
    };
}

/// <summary>Marks a benchmark class whose methods are training steps of <see cref="Model"/>, for the throughput columns.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class StepModelAttribute(string model) : Attribute
{
    /// <summary><c>mlp</c>, <c>lm</c> or <c>gpt2</c>.</summary>
    public string Model { get; } = model;
}
