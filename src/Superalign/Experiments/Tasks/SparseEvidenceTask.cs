using Superalign.Supervision;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Experiments.Tasks;

/// <summary>Options of a <see cref="SparseEvidenceTask"/>; validated when the task is built.</summary>
/// <param name="Features">Number of features <c>D</c> (at least <c>Classes</c>, at most 4096).</param>
/// <param name="Classes">Number of classes <c>C</c> (at least 2).</param>
/// <param name="EvidencePerExample">
/// Evidence features planted in each example, in <c>[1, ⌊D / C⌋]</c>: the features of the example's class group that
/// carry its label.
/// </param>
/// <param name="Amplitude">Shift added to an evidence feature (finite, &gt; 0); background features are N(0, 1).</param>
/// <param name="Threshold">Level above which a feature counts as evidence for its class (finite, ≥ 0).</param>
/// <param name="Seed">Seed of the hidden rule: which class owns each feature, and the feature weights.</param>
public sealed record SparseEvidenceTaskOptions(
    int Features = 32,
    int Classes = 4,
    int EvidencePerExample = 3,
    double Amplitude = 3.0,
    double Threshold = 1.5,
    long Seed = 0)
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of its range.</summary>
    public void Validate()
    {
        const string owner = nameof(SparseEvidenceTaskOptions);
        if (Classes < 2)
            throw new ArgumentOutOfRangeException(nameof(Classes), Classes, $"{owner}.{nameof(Classes)} must be at least 2; got {Classes}.");
        if (Features < Classes || Features > 4096)
            throw new ArgumentOutOfRangeException(nameof(Features), Features, $"{owner}.{nameof(Features)} must be in [Classes = {Classes}, 4096]; got {Features}.");
        int smallestGroup = Features / Classes;
        if (EvidencePerExample < 1 || EvidencePerExample > smallestGroup)
            throw new ArgumentOutOfRangeException(nameof(EvidencePerExample), EvidencePerExample,
                $"{owner}.{nameof(EvidencePerExample)} must be in [1, Features / Classes = {smallestGroup}]; got {EvidencePerExample}.");
        if (!(double.IsFinite(Amplitude) && Amplitude > 0))
            throw new ArgumentOutOfRangeException(nameof(Amplitude), Amplitude, $"{owner}.{nameof(Amplitude)} must be finite and > 0; got {Amplitude}.");
        if (!(double.IsFinite(Threshold) && Threshold >= 0))
            throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, $"{owner}.{nameof(Threshold)} must be finite and >= 0; got {Threshold}.");
    }
}

/// <summary>
/// A built-in task for sandwiching and debate, after the sparse-pixel MNIST judge of Irving et al. (2018): the label
/// of an example is carried by a few of its many features, so a judge that sees only <c>k</c> features chosen at
/// random rarely sees the evidence, while a model that sees all features (or a debater who knows where to look) does.
/// </summary>
/// <remarks>
/// <para><b>The hidden rule</b> (fixed by <see cref="SparseEvidenceTaskOptions.Seed"/>): the <c>D</c> features are
/// split into <c>C</c> groups of about <c>D / C</c> by a random permutation, feature <c>j</c> owned by class
/// <see cref="FeatureClasses"/>[j] with weight <see cref="FeatureWeights"/>[j] in [0.75, 1.25]. The label is
/// <c>argmax_c Σ_{j owned by c} w_j · max(0, x_j − τ)</c>: each class scores the weighted excess of its features over
/// the threshold τ (ties, which need every class to score 0, go to the lowest class).</para>
/// <para><b>Generation</b> (<see cref="Generate"/>): a class is drawn uniformly, all features are N(0, 1), and
/// <c>EvidencePerExample</c> features of that class's group, chosen uniformly, are shifted by <c>Amplitude</c>. The
/// label is then the rule applied to the features (it equals the drawn class for almost every example at the
/// defaults), so the ground truth is a function of the features and <see cref="Oracle"/> is exact.</para>
/// <para>At the defaults (<c>D = 32, C = 4</c>, 3 evidence features, amplitude 3, τ = 1.5) a judge seeing 4 random
/// features meets at least one evidence feature in about a third of the examples.</para>
/// </remarks>
public sealed class SparseEvidenceTask
{
    private readonly long[] _owners;
    private readonly float[] _weights;

    /// <summary>Builds the task's hidden rule from <paramref name="options"/> (defaults when null).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public SparseEvidenceTask(SparseEvidenceTaskOptions? options = null)
    {
        Options = options ?? new SparseEvidenceTaskOptions();
        Options.Validate();
        int d = Options.Features;
        _owners = new long[d];
        _weights = new float[d];
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)Options.Seed), CPU);
        var permutation = randperm(d, generator: generator).data<long>().ToArray();
        for (int i = 0; i < d; i++) _owners[permutation[i]] = i % Options.Classes;
        var u = rand(new long[] { d }, dtype: ScalarType.Float32, generator: generator).data<float>().ToArray();
        for (int j = 0; j < d; j++) _weights[j] = 0.75f + 0.5f * u[j];
    }

    /// <summary>The options the task was built with.</summary>
    public SparseEvidenceTaskOptions Options { get; }

    /// <summary>Number of features <c>D</c>.</summary>
    public int Features => Options.Features;

    /// <summary>Number of classes <c>C</c>.</summary>
    public int Classes => Options.Classes;

    /// <summary>Width of a judge's input, <c>[masked features ‖ reveal mask]</c>: <c>2D</c> (see <see cref="RevealEncoding"/>).</summary>
    public int JudgeInputWidth => RevealEncoding.Width(Features);

    /// <summary>The class that owns each feature (part of the hidden rule).</summary>
    public IReadOnlyList<long> FeatureClasses => _owners;

    /// <summary>The weight of each feature in its class's score (part of the hidden rule).</summary>
    public IReadOnlyList<float> FeatureWeights => _weights;

    /// <summary>
    /// <paramref name="n"/> examples drawn with <paramref name="seed"/> (the same seed gives the same examples):
    /// features <c>[n, D]</c> (float32) and their labels <c>[n]</c> (int64) under the hidden rule, on the CPU.
    /// </summary>
    /// <param name="n">Number of examples (at least 1).</param>
    /// <param name="seed">Seed of the examples (independent of the rule's seed).</param>
    public (Tensor Features, Tensor Labels) Generate(int n, long seed)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, $"{nameof(n)} must be at least 1; got {n}.");
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)seed), CPU);
        int d = Features;
        var drawn = randint(Classes, new long[] { n }, dtype: ScalarType.Int64, generator: generator);
        var x = randn(new long[] { n, d }, dtype: ScalarType.Float32, generator: generator);
        // Evidence: EvidencePerExample features of the drawn class's group, uniformly (the largest random keys among
        // the group's features; keys of the other features are pushed below every group key).
        using var owners = tensor(_owners);
        var inGroup = owners.unsqueeze(0).eq(drawn.unsqueeze(1));                       // [n, D]
        var keys = rand(new long[] { n, d }, dtype: ScalarType.Float32, generator: generator);
        keys = where(inGroup, keys, full_like(keys, -1f));
        var (_, chosen) = keys.topk(Options.EvidencePerExample, dim: 1);
        var evidence = zeros_like(x).scatter(1, chosen, full(new long[] { n, Options.EvidencePerExample }, (float)Options.Amplitude));
        x = x + evidence;
        var labels = Label(x);
        return (x.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }

    /// <summary>Each class's score under the hidden rule, <c>[B, C]</c> (float32), on the features' device.</summary>
    /// <param name="features">Features <c>[B, D]</c>.</param>
    public Tensor Scores(Tensor features)
    {
        CheckFeatures(features);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var device = features.device;
        var owners = tensor(_owners, device: device);
        var weights = tensor(_weights, device: device);
        var assignment = nn.functional.one_hot(owners, Classes).to_type(ScalarType.Float32);   // [D, C]
        var excess = (features.to_type(ScalarType.Float32) - (float)Options.Threshold).relu() * weights;
        return excess.matmul(assignment).MoveToOuterDisposeScope();
    }

    /// <summary>The hidden rule's labels <c>[B]</c> (int64) for features <c>[B, D]</c>, on the features' device.</summary>
    /// <param name="features">Features <c>[B, D]</c>.</param>
    public Tensor Label(Tensor features)
    {
        using var scope = NewDisposeScope();
        return Scores(features).argmax(1).MoveToOuterDisposeScope();
    }

    /// <summary>The ground-truth supervisor of this task (one-hot labels from the hidden rule).</summary>
    public GroundTruthSupervisor Oracle() => new(Classes, Label, name: "sparse-evidence-rule");

    private void CheckFeatures(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.dim() != 2 || features.shape[1] != Features)
            throw new ArgumentException($"features must have shape [B, {Features}]; got [{string.Join(", ", features.shape)}].", nameof(features));
    }
}
