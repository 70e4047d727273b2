namespace Superalign.Experiments.Metrics;

/// <summary>
/// Misfit and gain in squared distance between predicted probability vectors (Charikar et al. 2024, "Quantifying the
/// gain in weak-to-strong generalization"). With <c>d(f, g) = mean over examples of ‖f(x) − g(x)‖²</c>, the strong
/// student's <b>misfit</b> is <c>d(student, weak)</c> and its <b>gain</b> is <c>d(truth, weak) − d(truth, student)</c>
/// (the drop of the Brier score, truth one-hot). Their theorem (a convex student class that contains the truth, the
/// student the projection of the weak model onto it) gives gain ≥ misfit; elsewhere it is an empirical relation.
/// </summary>
public static class Misfit
{
    /// <summary>Mean over examples of the squared Euclidean distance between two rows of probabilities.</summary>
    /// <param name="first">Probabilities <c>[N, C]</c> as rows (e.g. the student's).</param>
    /// <param name="second">Probabilities <c>[N, C]</c> (e.g. the weak model's).</param>
    /// <exception cref="ArgumentException">Empty, ragged or differently shaped inputs (the message names the parameter).</exception>
    public static double MeanSquaredDistance(IReadOnlyList<double[]> first, IReadOnlyList<double[]> second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        MetricInputs.NotEmpty(first, nameof(first));
        MetricInputs.SameLength(second, first.Count, nameof(second), nameof(first));
        double total = 0;
        for (int i = 0; i < first.Count; i++)
        {
            var (p, q) = (first[i], second[i]);
            if (p is null || q is null || p.Length == 0 || p.Length != q.Length)
                throw new ArgumentException($"row {i} of {nameof(first)} and {nameof(second)} must be non-empty and of the same length.", nameof(second));
            double s = 0;
            for (int c = 0; c < p.Length; c++) s += (p[c] - q[c]) * (p[c] - q[c]);
            total += s;
        }
        return total / first.Count;
    }

    /// <summary>The Brier score: mean over examples of <c>‖p − onehot(label)‖²</c> (0 perfect, at most 2).</summary>
    /// <param name="probabilities">Probabilities <c>[N, C]</c> as rows.</param>
    /// <param name="labels">Class ids <c>[N]</c> in <c>[0, C)</c>.</param>
    /// <exception cref="ArgumentException">Empty or mismatched inputs, or a label out of range.</exception>
    public static double Brier(IReadOnlyList<double[]> probabilities, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(labels);
        MetricInputs.NotEmpty(probabilities, nameof(probabilities));
        MetricInputs.SameLength(labels, probabilities.Count, nameof(labels), nameof(probabilities));
        var truth = new double[probabilities.Count][];
        for (int i = 0; i < truth.Length; i++)
        {
            int classes = probabilities[i]?.Length ?? 0;
            if (labels[i] < 0 || labels[i] >= classes)
                throw new ArgumentException($"labels[{i}] = {labels[i]} is not a class of a {classes}-class row.", nameof(labels));
            truth[i] = new double[classes];
            truth[i][labels[i]] = 1;
        }
        return MeanSquaredDistance(probabilities, truth);
    }
}
