using static TorchSharp.torch;

namespace Superalign.Experiments.Metrics;

/// <summary>One bin of a reliability diagram.</summary>
/// <param name="Lower">Lower edge (exclusive, except 0 for the first bin, which includes confidence 0).</param>
/// <param name="Upper">Upper edge (inclusive).</param>
/// <param name="Count">Examples whose confidence falls in the bin.</param>
/// <param name="Accuracy">Fraction of them predicted correctly; NaN for an empty bin.</param>
/// <param name="Confidence">Their mean confidence; NaN for an empty bin.</param>
public sealed record CalibrationBin(double Lower, double Upper, int Count, double Accuracy, double Confidence);

/// <summary>
/// Calibration of classifier probabilities: the expected calibration error (ECE) with equal-width confidence bins,
/// as in Guo et al. 2017 and the weak-to-strong reports.
/// </summary>
/// <remarks>
/// The confidence of an example is its largest class probability and its prediction the argmax (the first maximum on
/// ties). Confidences are placed in <c>bins</c> equal-width bins <c>(k/M, (k+1)/M]</c> (the first bin also takes 0).
/// <c>ECE = Σ_b (n_b / N) · |accuracy_b − confidence_b|</c>, skipping empty bins; it lies in [0, 1], and is 0 when
/// in every bin the accuracy equals the mean confidence.
/// </remarks>
public static class Calibration
{
    /// <summary>The default number of bins, the usual choice in the literature.</summary>
    public const int DefaultBins = 10;

    /// <summary>ECE of class probabilities <c>[N, C]</c> against true labels.</summary>
    /// <param name="probabilities">Class probabilities <c>[N, C]</c>, each entry in [0, 1].</param>
    /// <param name="labels">True class ids <c>[N]</c> in <c>[0, C)</c>.</param>
    /// <param name="bins">Number of equal-width confidence bins (at least 1).</param>
    /// <exception cref="ArgumentException">Shapes disagree, a probability is outside [0, 1], or a label is out of range.</exception>
    public static double ExpectedCalibrationError(double[,] probabilities, int[] labels, int bins = DefaultBins)
    {
        var (confidences, correct) = Confidences(probabilities, labels);
        return ExpectedCalibrationError(confidences, correct, bins);
    }

    /// <summary>ECE of a probability tensor <c>[N, C]</c> (any device and floating dtype) against label ids <c>[N]</c>.</summary>
    /// <param name="probabilities">Class probabilities <c>[N, C]</c> (apply softmax to logits first).</param>
    /// <param name="labels">Integer class ids <c>[N]</c>.</param>
    /// <param name="bins">Number of equal-width confidence bins (at least 1).</param>
    public static double ExpectedCalibrationError(Tensor probabilities, Tensor labels, int bins = DefaultBins)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.dim() != 1)
            throw new ArgumentException($"labels must hold class ids [N]; got [{string.Join(", ", labels.shape)}].", nameof(labels));
        return ExpectedCalibrationError(MetricInputs.Matrix(probabilities, nameof(probabilities)), MetricInputs.Ids(labels, nameof(labels)), bins);
    }

    /// <summary>ECE from per-example confidences and whether each prediction was correct.</summary>
    /// <param name="confidences">Confidence of each prediction, in [0, 1].</param>
    /// <param name="correct">Whether each prediction was correct.</param>
    /// <param name="bins">Number of equal-width confidence bins (at least 1).</param>
    public static double ExpectedCalibrationError(double[] confidences, bool[] correct, int bins = DefaultBins)
    {
        var diagram = ReliabilityDiagram(confidences, correct, bins);
        double n = confidences.Length, ece = 0;
        foreach (var bin in diagram)
            if (bin.Count > 0)
                ece += bin.Count / n * Math.Abs(bin.Accuracy - bin.Confidence);
        return ece;
    }

    /// <summary>The reliability diagram behind the ECE: every bin, empty ones included, from low to high confidence.</summary>
    /// <param name="confidences">Confidence of each prediction, in [0, 1].</param>
    /// <param name="correct">Whether each prediction was correct.</param>
    /// <param name="bins">Number of equal-width confidence bins (at least 1).</param>
    public static IReadOnlyList<CalibrationBin> ReliabilityDiagram(double[] confidences, bool[] correct, int bins = DefaultBins)
    {
        MetricInputs.NotEmpty(confidences, nameof(confidences));
        MetricInputs.SameLength(correct, confidences.Length, nameof(correct), nameof(confidences));
        MetricInputs.AtLeast(bins, 1, nameof(bins));
        var counts = new int[bins];
        var hits = new double[bins];
        var confidenceSums = new double[bins];
        for (int i = 0; i < confidences.Length; i++)
        {
            double c = confidences[i];
            if (!(c >= 0 && c <= 1))
                throw new ArgumentException($"{nameof(confidences)}[{i}] must be in [0, 1]; got {c}.", nameof(confidences));
            int b = Bin(c, bins);
            counts[b]++;
            confidenceSums[b] += c;
            if (correct[i]) hits[b]++;
        }
        var result = new CalibrationBin[bins];
        for (int b = 0; b < bins; b++)
            result[b] = new CalibrationBin(
                b / (double)bins, (b + 1) / (double)bins, counts[b],
                counts[b] == 0 ? double.NaN : hits[b] / counts[b],
                counts[b] == 0 ? double.NaN : confidenceSums[b] / counts[b]);
        return result;
    }

    /// <summary>The bin <c>k</c> with <c>k/M &lt; c ≤ (k+1)/M</c> (0 for c = 0), robust to rounding at the edges.</summary>
    private static int Bin(double confidence, int bins)
    {
        int b = (int)Math.Ceiling(confidence * bins) - 1;
        // confidence·M can round up past an edge (0.3·10 = 3.0000000000000004); compare with the edge itself.
        if (b >= 1 && confidence <= b / (double)bins) b--;
        if (b + 1 < bins && confidence > (b + 1) / (double)bins) b++;
        return Math.Clamp(b, 0, bins - 1);
    }

    private static (double[] Confidences, bool[] Correct) Confidences(double[,] probabilities, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        int n = probabilities.GetLength(0), classes = probabilities.GetLength(1);
        if (n == 0 || classes == 0)
            throw new ArgumentException($"probabilities must be a non-empty [N, C] matrix; got [{n}, {classes}].", nameof(probabilities));
        MetricInputs.SameLength(labels, n, nameof(labels), "the rows of probabilities");
        MetricInputs.ClassIds(labels, classes, nameof(labels));
        var confidences = new double[n];
        var correct = new bool[n];
        var predictions = MetricInputs.Argmax(probabilities);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < classes; j++)
            {
                double p = probabilities[i, j];
                if (!(p >= 0 && p <= 1))
                    throw new ArgumentException($"{nameof(probabilities)}[{i}, {j}] must be a probability in [0, 1]; got {p}.", nameof(probabilities));
            }
            confidences[i] = probabilities[i, predictions[i]];
            correct[i] = predictions[i] == labels[i];
        }
        return (confidences, correct);
    }
}
