using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Supervision;

/// <summary>
/// The oracle: labels from the true labeling rule of a task, as one-hot soft labels, and — for preference training —
/// the truly better of two responses. It trains the weak model and the strong ceiling of the weak-to-strong protocol
/// and scores everything else.
/// </summary>
/// <remarks>
/// <para>Build it from a labeling rule (<c>features [B, F] → class ids [B]</c>), which suits synthetic tasks whose
/// ground truth is a function, or with <see cref="FromDataset"/> from a labeled dataset, whose rows are then looked up
/// by exact feature values.</para>
/// <para><b>Preferences.</b> With a per-response <c>score</c> function (correctness 1/0, or any score of which higher
/// is better), <see cref="Prefer"/> is 1 when the first response scores higher, 0 when it scores lower and 0.5 on a
/// tie. Without one, responses must be classes (<see cref="ResponseBatch.ForClassification"/>, <c>T = 1</c>) and the
/// score is their correctness under the labeling rule: the correct class is preferred to a wrong one.</para>
/// </remarks>
public sealed class GroundTruthSupervisor : ILabelSupervisor, IPreferenceSupervisor
{
    private readonly Func<Tensor, Tensor> _rule;
    private readonly Func<ResponseBatch, Tensor>? _score;

    /// <summary>An oracle from a labeling rule.</summary>
    /// <param name="classes">Number of classes (at least 2).</param>
    /// <param name="labelingRule">
    /// True class ids <c>[B]</c> (any integer dtype, in <c>[0, classes)</c>) for features <c>[B, F]</c>; called
    /// without gradients, on the device of the features.
    /// </param>
    /// <param name="score">
    /// Optional per-response score <c>[B]</c> (higher is better) used by <see cref="Prefer"/>; null scores class
    /// responses by their correctness under <paramref name="labelingRule"/>.
    /// </param>
    /// <param name="name">Name used in reports.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is below 2.</exception>
    public GroundTruthSupervisor(int classes, Func<Tensor, Tensor> labelingRule, Func<ResponseBatch, Tensor>? score = null, string name = "ground-truth")
    {
        if (classes < 2)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, $"{nameof(classes)} must be at least 2; got {classes}.");
        ArgumentNullException.ThrowIfNull(labelingRule);
        ArgumentException.ThrowIfNullOrEmpty(name);
        Classes = classes;
        _rule = labelingRule;
        _score = score;
        Name = name;
    }

    /// <summary>
    /// An oracle for a labeled dataset: <see cref="Label"/> looks each row of its features up among
    /// <paramref name="features"/> by exact value (after widening to float64; −0 equals +0) and returns that row's
    /// label. The dataset is copied to the CPU once; the supervisor holds no tensors.
    /// </summary>
    /// <param name="features">Dataset features <c>[N, F]</c>.</param>
    /// <param name="labels">Their class ids <c>[N]</c> (integer dtype, in <c>[0, classes)</c>).</param>
    /// <param name="classes">Number of classes (at least 2).</param>
    /// <param name="score">See the rule-based constructor.</param>
    /// <param name="name">Name used in reports.</param>
    /// <exception cref="ArgumentException">Shapes disagree, a label is out of range, or two equal rows have different labels.</exception>
    public static GroundTruthSupervisor FromDataset(Tensor features, Tensor labels, int classes, Func<ResponseBatch, Tensor>? score = null, string name = "ground-truth")
    {
        SupervisionCheck.Features(features, nameof(features));
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.dim() != 1 || labels.shape[0] != features.shape[0] || labels.is_floating_point() || labels.dtype == ScalarType.Bool)
            throw new ArgumentException($"labels must hold integer class ids [{features.shape[0]}] (one per row of features); got {labels.dtype} {SupervisionCheck.Shape(labels)}.", nameof(labels));
        if (classes < 2)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, $"{nameof(classes)} must be at least 2; got {classes}.");

        long[] ids;
        var table = new Dictionary<RowKey, long>();
        using (var scope = NewDisposeScope())
        {
            ids = labels.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
            var rows = Rows(features);
            for (int i = 0; i < rows.Length; i++)
            {
                if (ids[i] < 0 || ids[i] >= classes)
                    throw new ArgumentException($"labels[{i}] must be a class id in [0, {classes}); got {ids[i]}.", nameof(labels));
                if (table.TryGetValue(rows[i], out long existing) && existing != ids[i])
                    throw new ArgumentException($"Row {i} of features repeats an earlier row with label {existing}, but has label {ids[i]}.", nameof(labels));
                table[rows[i]] = ids[i];
            }
        }
        long width = features.shape[1];
        return new GroundTruthSupervisor(classes, x => Lookup(table, width, x), score, name);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Number of classes.</summary>
    public int Classes { get; }

    /// <summary>True class ids <c>[B]</c> (int64, on the device of <paramref name="features"/>).</summary>
    /// <param name="features">Features <c>[B, F]</c>.</param>
    /// <exception cref="ArgumentException"><paramref name="features"/> is not <c>[B, F]</c> (or, for a dataset oracle, a row is not in the dataset).</exception>
    /// <exception cref="InvalidOperationException">The labeling rule returned ids of the wrong shape or range.</exception>
    public Tensor Labels(Tensor features)
    {
        SupervisionCheck.Features(features, nameof(features));
        using var scope = NewDisposeScope();
        return TrueIds(features).MoveToOuterDisposeScope();
    }

    /// <summary>One-hot soft labels <c>[B, Classes]</c> (float32, on the device of <paramref name="features"/>).</summary>
    /// <param name="features">Features <c>[B, F]</c>.</param>
    public Tensor Label(Tensor features)
    {
        SupervisionCheck.Features(features, nameof(features));
        using var scope = NewDisposeScope();
        return nn.functional.one_hot(TrueIds(features), Classes).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>1 where the first response is truly better, 0 where it is worse, 0.5 on ties (float32 <c>[B]</c>).</summary>
    /// <param name="first">The first responses.</param>
    /// <param name="second">The second responses to the same inputs (same count).</param>
    /// <exception cref="ArgumentException">The batches differ in size, or (without a score function) are not class responses.</exception>
    public Tensor Prefer(ResponseBatch first, ResponseBatch second)
    {
        SupervisionCheck.Pair(first, second, nameof(first), nameof(second));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var a = Score(first, nameof(first)).to_type(ScalarType.Float64);
        var b = Score(second, nameof(second)).to_type(ScalarType.Float64).to(a.device);
        var preference = (a - b).sign().add(1).mul(0.5).to_type(ScalarType.Float32);
        return preference.to(first.Inputs.device).MoveToOuterDisposeScope();
    }

    private Tensor Score(ResponseBatch batch, string parameter)
    {
        if (_score is not null)
        {
            var s = _score(batch);
            SupervisionCheck.Scores(s, batch.Count, $"The score function of {Name}");
            return s;
        }
        if (batch.Targets.shape[1] != 1 || batch.Inputs.dim() != 2)
            throw new ArgumentException(
                $"{parameter} must be a classification batch (features [B, F], one class per response) when {Name} has no score function; got inputs {SupervisionCheck.Shape(batch.Inputs)} and targets {SupervisionCheck.Shape(batch.Targets)}.",
                parameter);
        var truth = TrueIds(batch.Inputs);
        return batch.Targets.select(1, 0).to(truth.device).eq(truth);
    }

    private Tensor TrueIds(Tensor features)
    {
        Tensor ids;
        using (no_grad()) ids = _rule(features);
        if (ids is null || ids.dim() != 1 || ids.shape[0] != features.shape[0] || ids.is_floating_point() || ids.dtype == ScalarType.Bool)
            throw new InvalidOperationException(
                $"The labeling rule of {Name} must return integer class ids [{features.shape[0]}]; got {(ids is null ? "null" : $"{ids.dtype} {SupervisionCheck.Shape(ids)}")}.");
        if (ids.numel() > 0)
        {
            long min = ids.min().ToInt64(), max = ids.max().ToInt64();
            if (min < 0 || max >= Classes)
                throw new InvalidOperationException($"The labeling rule of {Name} returned class ids in [{min}, {max}], outside [0, {Classes}).");
        }
        return ids.to_type(ScalarType.Int64).to(features.device);
    }

    private static Tensor Lookup(Dictionary<RowKey, long> table, long width, Tensor features)
    {
        if (features.shape[1] != width)
            throw new ArgumentException($"features must have shape [B, {width}] (the dataset's width); got {SupervisionCheck.Shape(features)}.", nameof(features));
        var rows = Rows(features);
        var ids = new long[rows.Length];
        for (int i = 0; i < rows.Length; i++)
            if (!table.TryGetValue(rows[i], out ids[i]))
                throw new ArgumentException($"Row {i} of features is not in the ground-truth dataset.", nameof(features));
        return torch.tensor(ids, device: features.device);
    }

    private static RowKey[] Rows(Tensor features)
    {
        using var scope = NewDisposeScope();
        // + 0.0 turns −0 into +0, so that rows equal as numbers get equal keys.
        var flat = features.detach().to_type(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
        int n = (int)features.shape[0], f = (int)features.shape[1];
        var keys = new RowKey[n];
        for (int i = 0; i < n; i++)
        {
            var row = new double[f];
            for (int j = 0; j < f; j++) row[j] = flat[i * f + j] + 0.0;
            keys[i] = new RowKey(row);
        }
        return keys;
    }

    /// <summary>A feature row compared by exact value.</summary>
    private readonly struct RowKey(double[] values) : IEquatable<RowKey>
    {
        private readonly double[] _values = values;

        public bool Equals(RowKey other) => _values.AsSpan().SequenceEqual(other._values);

        public override bool Equals(object? obj) => obj is RowKey other && Equals(other);

        public override int GetHashCode()
        {
            var hash = new HashCode();
            hash.AddBytes(MemoryMarshal.AsBytes(_values.AsSpan()));
            return hash.ToHashCode();
        }
    }
}
