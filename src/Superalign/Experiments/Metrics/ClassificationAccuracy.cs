using static TorchSharp.torch;

namespace Superalign.Experiments.Metrics;

/// <summary>Classification accuracy and the per-example correctness that bootstrap intervals resample.</summary>
public static class ClassificationAccuracy
{
    /// <summary>Fraction of <paramref name="predictions"/> equal to <paramref name="labels"/>.</summary>
    /// <param name="predictions">Predicted class ids <c>[N]</c>.</param>
    /// <param name="labels">True class ids <c>[N]</c>.</param>
    /// <exception cref="ArgumentException">Empty or different lengths (the message names the parameter).</exception>
    public static double Of(int[] predictions, int[] labels)
    {
        MetricInputs.NotEmpty(labels, nameof(labels));
        MetricInputs.SameLength(predictions, labels.Length, nameof(predictions), nameof(labels));
        int hits = 0;
        for (int i = 0; i < labels.Length; i++)
            if (predictions[i] == labels[i]) hits++;
        return hits / (double)labels.Length;
    }

    /// <summary>Accuracy of tensor predictions: class ids <c>[N]</c> or scores <c>[N, C]</c> (argmax), against ids <c>[N]</c>.</summary>
    /// <param name="predictions">Integer ids <c>[N]</c>, or probabilities or logits <c>[N, C]</c>.</param>
    /// <param name="labels">Integer class ids <c>[N]</c>.</param>
    public static double Of(Tensor predictions, Tensor labels) =>
        Of(MetricInputs.Ids(predictions, nameof(predictions)), MetricInputs.Ids(labels, nameof(labels)));

    /// <summary>Per-example correctness, 1 or 0: the sample a bootstrap resamples for accuracy or PGR intervals.</summary>
    /// <param name="predictions">Predicted class ids <c>[N]</c>.</param>
    /// <param name="labels">True class ids <c>[N]</c>.</param>
    public static double[] Correct(int[] predictions, int[] labels)
    {
        MetricInputs.NotEmpty(labels, nameof(labels));
        MetricInputs.SameLength(predictions, labels.Length, nameof(predictions), nameof(labels));
        var correct = new double[labels.Length];
        for (int i = 0; i < correct.Length; i++) correct[i] = predictions[i] == labels[i] ? 1 : 0;
        return correct;
    }

    /// <summary>Row-wise argmax of scores <c>[N, C]</c> (probabilities or logits); the first maximum wins ties.</summary>
    /// <param name="scores">Scores <c>[N, C]</c> with <c>C</c> at least 1.</param>
    public static int[] Predictions(double[,] scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.GetLength(1) == 0)
            throw new ArgumentException("scores must have at least one column.", nameof(scores));
        return MetricInputs.Argmax(scores);
    }

    /// <summary>Class ids from a tensor: integer ids <c>[N]</c> as they are, or the argmax of scores <c>[N, C]</c>.</summary>
    /// <param name="predictions">Integer ids <c>[N]</c>, or probabilities or logits <c>[N, C]</c>, on any device.</param>
    public static int[] Predictions(Tensor predictions) => MetricInputs.Ids(predictions, nameof(predictions));
}
