using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Experiments.Metrics;

/// <summary>Argument checks and tensor conversions shared by the metrics; every error names the parameter.</summary>
internal static class MetricInputs
{
    public static void NotEmpty<T>(IReadOnlyList<T>? values, string parameter)
    {
        ArgumentNullException.ThrowIfNull(values, parameter);
        if (values.Count == 0)
            throw new ArgumentException($"{parameter} must not be empty.", parameter);
    }

    public static void SameLength<T>(IReadOnlyList<T>? values, int expected, string parameter, string reference)
    {
        ArgumentNullException.ThrowIfNull(values, parameter);
        if (values.Count != expected)
            throw new ArgumentException($"{parameter} must have the length of {reference} ({expected}); got {values.Count}.", parameter);
    }

    public static void Finite(IReadOnlyList<double> values, string parameter)
    {
        for (int i = 0; i < values.Count; i++)
            if (!double.IsFinite(values[i]))
                throw new ArgumentException($"{parameter}[{i}] must be finite; got {values[i]}.", parameter);
    }

    public static void Finite(double value, string parameter)
    {
        if (!double.IsFinite(value))
            throw new ArgumentOutOfRangeException(parameter, value, $"{parameter} must be finite; got {value}.");
    }

    public static void Level(double level, string parameter = "level")
    {
        if (!(level > 0 && level < 1))
            throw new ArgumentOutOfRangeException(parameter, level, $"{parameter} must be in (0, 1); got {level}.");
    }

    public static void AtLeast(int value, int min, string parameter)
    {
        if (value < min)
            throw new ArgumentOutOfRangeException(parameter, value, $"{parameter} must be at least {min}; got {value}.");
    }

    /// <summary>Class ids in <c>[0, classes)</c> (no upper bound when <paramref name="classes"/> is null).</summary>
    public static void ClassIds(IReadOnlyList<int> ids, int? classes, string parameter)
    {
        for (int i = 0; i < ids.Count; i++)
            if (ids[i] < 0 || classes is { } c && ids[i] >= c)
                throw new ArgumentException(
                    classes is { } k
                        ? $"{parameter}[{i}] must be a class id in [0, {k}); got {ids[i]}."
                        : $"{parameter}[{i}] must be a non-negative class id; got {ids[i]}.",
                    parameter);
    }

    /// <summary>Row-wise argmax (the first maximum on ties) of a score matrix <c>[N, C]</c>.</summary>
    public static int[] Argmax(double[,] scores)
    {
        int n = scores.GetLength(0), c = scores.GetLength(1);
        var result = new int[n];
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int j = 1; j < c; j++)
                if (scores[i, j] > scores[i, best]) best = j;
            result[i] = best;
        }
        return result;
    }

    /// <summary>A floating tensor <c>[N, C]</c> copied to a CPU <see cref="double"/> matrix.</summary>
    public static double[,] Matrix(Tensor? tensor, string parameter)
    {
        ArgumentNullException.ThrowIfNull(tensor, parameter);
        if (tensor.dim() != 2 || !tensor.is_floating_point())
            throw new ArgumentException($"{parameter} must be a floating tensor [N, C]; got {tensor.dtype} [{string.Join(", ", tensor.shape)}].", parameter);
        using var scope = NewDisposeScope();
        var flat = tensor.detach().to_type(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
        int n = (int)tensor.shape[0], c = (int)tensor.shape[1];
        var matrix = new double[n, c];
        Buffer.BlockCopy(flat, 0, matrix, 0, flat.Length * sizeof(double));
        return matrix;
    }

    /// <summary>
    /// Class ids from a tensor: integer ids <c>[N]</c> as they are, or scores <c>[N, C]</c> (probabilities or logits)
    /// reduced by argmax.
    /// </summary>
    public static int[] Ids(Tensor? tensor, string parameter)
    {
        ArgumentNullException.ThrowIfNull(tensor, parameter);
        using var scope = NewDisposeScope();
        if (tensor.dim() == 2 && tensor.is_floating_point())
            return tensor.detach().argmax(1).to_type(ScalarType.Int32).cpu().data<int>().ToArray();
        if (tensor.dim() == 1 && !tensor.is_floating_point() && tensor.dtype != ScalarType.Bool)
            return tensor.detach().to_type(ScalarType.Int32).cpu().data<int>().ToArray();
        throw new ArgumentException($"{parameter} must hold integer class ids [N] or floating scores [N, C]; got {tensor.dtype} [{string.Join(", ", tensor.shape)}].", parameter);
    }
}
