using Superalign.Data;
using Superalign.Objectives.Competence;
using Superalign.Students;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>Options of the verifier judge of <see cref="SelfEnhancement"/> (<see cref="FeedbackJudge.Verifier"/>).</summary>
/// <param name="Labels">
/// Size of the labelled set: this many responses of the SFT policy (one sample each, at the sampling temperature, to
/// distinct training prompts without a demonstration), each labelled with the exact checkers' rank. At least 8.
/// </param>
/// <param name="HiddenWidth">Width of the verifier's hidden layers.</param>
/// <param name="Depth">Hidden layers of the verifier (0: multinomial logistic regression).</param>
/// <param name="Steps">AdamW updates on the labelled set.</param>
/// <param name="LearningRate">Peak learning rate (cosine decay to 0).</param>
/// <param name="BatchSize">Examples per mini-batch.</param>
public sealed record VerifierOptions(int Labels = 256, int HiddenWidth = 128, int Depth = 2, int Steps = 400, double LearningRate = 1e-3, int BatchSize = 64)
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of range, as <c>owner.Verifier.Name</c>.</summary>
    public void Validate(string owner)
    {
        string me = $"{owner}.Verifier";
        ProtocolCheck.AtLeast(Labels, 8, nameof(Labels), me);
        ProtocolCheck.AtLeast(HiddenWidth, 1, nameof(HiddenWidth), me);
        ProtocolCheck.AtLeast(Depth, 0, nameof(Depth), me);
        if (Depth > 64) throw new ArgumentOutOfRangeException(nameof(Depth), Depth, $"{me}.{nameof(Depth)} must be at most 64 (MlpClassifier's limit); got {Depth}.");
        ProtocolCheck.AtLeast(Steps, 1, nameof(Steps), me);
        ProtocolCheck.Positive(LearningRate, nameof(LearningRate), me);
        ProtocolCheck.AtLeast(BatchSize, 1, nameof(BatchSize), me);
    }
}

/// <summary>
/// A verifier separate from the policy: a small classifier that reads a (prompt, response) text as one-hot characters
/// per position and predicts the checkers' rank of the response (0..<c>classes</c> − 1). It shares no parameters or
/// training data with the policy; what it knows comes from its labelled set. A pair is judged by the expected rank.
/// </summary>
internal sealed class ResponseVerifier : IDisposable
{
    private readonly CharacterTokenizer _tokenizer;
    private readonly int _length;
    private readonly MlpClassifier _model;

    /// <summary>A verifier with fresh weights drawn from <paramref name="seed"/>.</summary>
    /// <param name="tokenizer">The tokenizer whose characters are the features.</param>
    /// <param name="length">Characters read per text (prompt then response); longer texts are cut, shorter ones padded.</param>
    /// <param name="classes">Number of ranks.</param>
    /// <param name="options">Width, depth and training.</param>
    /// <param name="seed">Seed of the initial weights.</param>
    public ResponseVerifier(CharacterTokenizer tokenizer, int length, int classes, VerifierOptions options, long seed)
    {
        _tokenizer = tokenizer;
        _length = length;
        Options = options;
        _model = new MlpClassifier(new MlpClassifierOptions(length * tokenizer.VocabularySize, classes, options.HiddenWidth, options.Depth, Seed: seed), CPU, "verifier");
    }

    /// <summary>Width, depth and training.</summary>
    public VerifierOptions Options { get; }

    /// <summary>
    /// The features of each text: position <c>i</c>'s token id <c>t</c> sets feature <c>i · V + t</c> (V the vocabulary
    /// size); positions past the text are the pad id. <c>[N, length · V]</c>, float32, on the CPU.
    /// </summary>
    public Tensor Features(IReadOnlyList<(string Prompt, string Response)> examples)
    {
        int vocabulary = _tokenizer.VocabularySize, width = _length * vocabulary;
        var data = new float[examples.Count * width];
        for (int n = 0; n < examples.Count; n++)
        {
            var ids = _tokenizer.Encode(examples[n].Prompt + examples[n].Response);
            for (int i = 0; i < _length; i++)
                data[n * width + i * vocabulary + (int)(i < ids.Length ? ids[i] : CharacterTokenizer.Pad)] = 1f;
        }
        return tensor(data, [examples.Count, width]);
    }

    /// <summary>Trains on the labelled examples (cross-entropy, AdamW, cosine decay), batches shuffled by <paramref name="seed"/>.</summary>
    public void Train(IReadOnlyList<(string Prompt, string Response)> examples, IReadOnlyList<int> ranks, int seed, CancellationToken cancellationToken)
    {
        using var scope = NewDisposeScope();
        var features = Features(examples);
        var labels = tensor(ranks.Select(r => (long)r).ToArray());
        ClassifierTraining.Train(_model, features, labels, null, CompetenceObjectives.Create("ce"), Options.Steps, Options.LearningRate,
            Math.Min(Options.BatchSize, examples.Count), seed, cancellationToken);
    }

    /// <summary>The rank probabilities of each text, <c>[N, classes]</c>.</summary>
    private double[][] Probabilities(IReadOnlyList<(string Prompt, string Response)> examples)
    {
        using var scope = NewDisposeScope();
        var p = ClassifierTraining.Probabilities(_model, Features(examples)).to_type(ScalarType.Float64);
        int classes = (int)p.shape[1];
        var flat = p.data<double>().ToArray();
        return Enumerable.Range(0, examples.Count).Select(n => flat.AsSpan(n * classes, classes).ToArray()).ToArray();
    }

    /// <summary>The expected rank of each text under the verifier: Σ_k k · p(k).</summary>
    public double[] ExpectedRanks(IReadOnlyList<(string Prompt, string Response)> examples) =>
        Probabilities(examples).Select(p => p.Select((q, k) => k * q).Sum()).ToArray();

    /// <summary>The most probable rank of each text.</summary>
    public int[] PredictedRanks(IReadOnlyList<(string Prompt, string Response)> examples) =>
        Probabilities(examples).Select(p => Array.IndexOf(p, p.Max())).ToArray();

    /// <summary>
    /// Verdicts from scores: 1 where <paramref name="scoresA"/> is higher (prefers a), 0 where lower, 0.5 on a tie
    /// (no preference), as <see cref="LmTraining.JudgeVerdicts"/> gives them.
    /// </summary>
    public static double[] Verdicts(IReadOnlyList<double> scoresA, IReadOnlyList<double> scoresB) =>
        scoresA.Select((a, i) => a > scoresB[i] ? 1.0 : a < scoresB[i] ? 0.0 : 0.5).ToArray();

    /// <summary>The verifier's verdicts on pairs of responses to the same prompts.</summary>
    public double[] Judge(IReadOnlyList<string> prompts, IReadOnlyList<string> a, IReadOnlyList<string> b) =>
        Verdicts(ExpectedRanks(prompts.Select((p, i) => (p, a[i])).ToList()), ExpectedRanks(prompts.Select((p, i) => (p, b[i])).ToList()));

    /// <inheritdoc />
    public void Dispose() => _model.Dispose();
}
