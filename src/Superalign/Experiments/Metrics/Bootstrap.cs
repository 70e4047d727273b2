using MathNet.Numerics.Random;
using MathNet.Numerics.Statistics;

namespace Superalign.Experiments.Metrics;

/// <summary>A bootstrap confidence interval.</summary>
/// <param name="Estimate">The statistic on the original sample.</param>
/// <param name="Lower">Lower end: the <c>(1 − Level)/2</c> quantile of the resampled statistics.</param>
/// <param name="Upper">Upper end: the <c>(1 + Level)/2</c> quantile of the resampled statistics.</param>
/// <param name="Level">Nominal coverage, e.g. 0.95.</param>
/// <param name="Resamples">
/// Resamples whose statistic was finite and entered the quantiles (fewer than requested when the statistic is NaN on
/// some resamples, e.g. a PGR whose resampled gap vanishes); 0 leaves <see cref="Lower"/> and <see cref="Upper"/> NaN.
/// </param>
public sealed record BootstrapInterval(double Estimate, double Lower, double Upper, double Level, int Resamples)
{
    /// <summary>Whether <paramref name="value"/> lies in <c>[Lower, Upper]</c>.</summary>
    public bool Contains(double value) => value >= Lower && value <= Upper;

    /// <summary><c>Upper − Lower</c>.</summary>
    public double Width => Upper - Lower;
}

/// <summary>
/// Seeded percentile bootstrap confidence intervals (Efron): resample the examples with replacement, recompute the
/// statistic, and take the <c>(1 ± level)/2</c> quantiles of its resampled values (MathNet's R-7 quantile, the
/// linear interpolation that R and NumPy use by default). The same seed gives the same interval.
/// </summary>
/// <remarks>
/// The <b>paired</b> bootstrap resamples example indices once per resample and applies them to every aligned array,
/// so statistics of several measurements on the same examples (student vs weak accuracy, PGR from the three models'
/// per-example correctness) keep their correlation: the interval of a difference is then far narrower than what
/// independent resampling of each array would give, and correct.
/// </remarks>
public static class Bootstrap
{
    /// <summary>Default number of resamples.</summary>
    public const int DefaultResamples = 2000;

    /// <summary>Default confidence level.</summary>
    public const double DefaultLevel = 0.95;

    /// <summary>Percentile interval of <paramref name="statistic"/> over one sample.</summary>
    /// <param name="sample">The observations (at least one, finite).</param>
    /// <param name="statistic">The statistic, called on the sample and on each resample (fresh arrays).</param>
    /// <param name="level">Confidence level in (0, 1).</param>
    /// <param name="resamples">Number of resamples (at least 1).</param>
    /// <param name="seed">Seed of the resampling stream.</param>
    /// <exception cref="ArgumentException">An argument is empty, non-finite or out of range (the exception names it).</exception>
    public static BootstrapInterval Percentile(IReadOnlyList<double> sample, Func<double[], double> statistic,
        double level = DefaultLevel, int resamples = DefaultResamples, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(statistic);
        return Run(new[] { Checked(sample, nameof(sample)) }, c => statistic(c[0]), level, resamples, seed);
    }

    /// <summary>Percentile interval of the mean of <paramref name="sample"/>.</summary>
    /// <param name="sample">The observations (at least one, finite).</param>
    /// <param name="level">Confidence level in (0, 1).</param>
    /// <param name="resamples">Number of resamples (at least 1).</param>
    /// <param name="seed">Seed of the resampling stream.</param>
    public static BootstrapInterval Mean(IReadOnlyList<double> sample, double level = DefaultLevel, int resamples = DefaultResamples, int seed = 0) =>
        Percentile(sample, s => s.Mean(), level, resamples, seed);

    /// <summary>Paired percentile interval of a statistic of two aligned samples (example i of each resampled together).</summary>
    /// <param name="first">Per-example measurements of the first kind (e.g. the student's correctness).</param>
    /// <param name="second">The aligned measurements of the second kind (e.g. the weak model's), same length.</param>
    /// <param name="statistic">The statistic of the two (resampled) arrays.</param>
    /// <param name="level">Confidence level in (0, 1).</param>
    /// <param name="resamples">Number of resamples (at least 1).</param>
    /// <param name="seed">Seed of the resampling stream.</param>
    public static BootstrapInterval Paired(IReadOnlyList<double> first, IReadOnlyList<double> second, Func<double[], double[], double> statistic,
        double level = DefaultLevel, int resamples = DefaultResamples, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(statistic);
        var a = Checked(first, nameof(first));
        var b = Checked(second, nameof(second));
        MetricInputs.SameLength(b, a.Length, nameof(second), nameof(first));
        return Run(new[] { a, b }, c => statistic(c[0], c[1]), level, resamples, seed);
    }

    /// <summary>Paired percentile interval of a statistic of any number of aligned samples.</summary>
    /// <param name="columns">Aligned samples, all of one length (column k, entry i = measurement k of example i).</param>
    /// <param name="statistic">The statistic of the (resampled) columns, given in the same order.</param>
    /// <param name="level">Confidence level in (0, 1).</param>
    /// <param name="resamples">Number of resamples (at least 1).</param>
    /// <param name="seed">Seed of the resampling stream.</param>
    public static BootstrapInterval Paired(IReadOnlyList<IReadOnlyList<double>> columns, Func<double[][], double> statistic,
        double level = DefaultLevel, int resamples = DefaultResamples, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(statistic);
        MetricInputs.NotEmpty(columns, nameof(columns));
        var data = new double[columns.Count][];
        for (int k = 0; k < data.Length; k++)
        {
            data[k] = Checked(columns[k], $"{nameof(columns)}[{k}]", nameof(columns));
            MetricInputs.SameLength(data[k], data[0].Length, nameof(columns), $"{nameof(columns)}[0]");
        }
        return Run(data, statistic, level, resamples, seed);
    }

    /// <summary>Paired interval of the mean difference <c>mean(first − second)</c>.</summary>
    /// <param name="first">Per-example measurements (e.g. the student's correctness).</param>
    /// <param name="second">The aligned measurements to subtract (e.g. the weak model's correctness).</param>
    /// <param name="level">Confidence level in (0, 1).</param>
    /// <param name="resamples">Number of resamples (at least 1).</param>
    /// <param name="seed">Seed of the resampling stream.</param>
    public static BootstrapInterval MeanDifference(IReadOnlyList<double> first, IReadOnlyList<double> second,
        double level = DefaultLevel, int resamples = DefaultResamples, int seed = 0) =>
        Paired(first, second, (a, b) => a.Mean() - b.Mean(), level, resamples, seed);

    /// <summary>
    /// Paired interval of the PGR of one (weak, strong) pair, resampling test examples jointly for the three models.
    /// Each array holds a per-example score whose mean is the metric (1/0 correctness for accuracy, see
    /// <see cref="ClassificationAccuracy.Correct"/>). Resamples on which the pair would be excluded (gap not above
    /// <paramref name="minimumGap"/>) are left out and reduce <see cref="BootstrapInterval.Resamples"/>.
    /// </summary>
    /// <remarks>
    /// The means are correctly rounded sums divided by the count, so they do not depend on the order of the examples:
    /// a resample in which the weak model and the ceiling score the same total is an exact tie (gap 0, excluded).
    /// A running mean would round the two differently and turn such a tie into a gap of a few 1e-16, whose PGR is of
    /// order 1e13 or more. With 1/0 scores over <c>n</c> examples every included gap is then at least <c>1/n</c>, so
    /// every PGR, and both ends of the interval, lie in <c>[−n, n]</c>.
    /// </remarks>
    /// <param name="weak">The weak supervisor's per-example scores.</param>
    /// <param name="student">The student's per-example scores, aligned.</param>
    /// <param name="ceiling">The strong ceiling's per-example scores, aligned.</param>
    /// <param name="minimumGap">The exclusion threshold of <see cref="PerformanceGapRecovered.Compute"/>.</param>
    /// <param name="level">Confidence level in (0, 1).</param>
    /// <param name="resamples">Number of resamples (at least 1).</param>
    /// <param name="seed">Seed of the resampling stream.</param>
    public static BootstrapInterval Pgr(IReadOnlyList<double> weak, IReadOnlyList<double> student, IReadOnlyList<double> ceiling,
        double minimumGap = 0, double level = DefaultLevel, int resamples = DefaultResamples, int seed = 0)
    {
        var w = Checked(weak, nameof(weak));
        var s = Checked(student, nameof(student));
        var c = Checked(ceiling, nameof(ceiling));
        MetricInputs.SameLength(s, w.Length, nameof(student), nameof(weak));
        MetricInputs.SameLength(c, w.Length, nameof(ceiling), nameof(weak));
        PerformanceGapRecovered.Compute(0, 0, 1, minimumGap); // validates minimumGap, naming it
        return Run(new[] { w, s, c }, k => PerformanceGapRecovered.Compute(ExactSum.Mean(k[0]), ExactSum.Mean(k[1]), ExactSum.Mean(k[2]), minimumGap).Value,
            level, resamples, seed);
    }

    private static BootstrapInterval Run(double[][] columns, Func<double[][], double> statistic, double level, int resamples, int seed)
    {
        MetricInputs.Level(level);
        MetricInputs.AtLeast(resamples, 1, nameof(resamples));
        int n = columns[0].Length;
        double estimate = statistic(columns.Select(c => (double[])c.Clone()).ToArray());
        var rng = new Xoshiro256StarStar(seed);
        var values = new List<double>(resamples);
        var index = new int[n];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < n; i++) index[i] = rng.Next(n);
            var resampled = new double[columns.Length][];
            for (int k = 0; k < columns.Length; k++)
            {
                var source = columns[k];
                var target = resampled[k] = new double[n];
                for (int i = 0; i < n; i++) target[i] = source[index[i]];
            }
            double value = statistic(resampled);
            if (double.IsFinite(value)) values.Add(value);
        }
        if (values.Count == 0) return new BootstrapInterval(estimate, double.NaN, double.NaN, level, 0);
        var sorted = values.ToArray();
        Array.Sort(sorted);
        double lower = SortedArrayStatistics.QuantileCustom(sorted, (1 - level) / 2, QuantileDefinition.R7);
        double upper = SortedArrayStatistics.QuantileCustom(sorted, (1 + level) / 2, QuantileDefinition.R7);
        return new BootstrapInterval(estimate, lower, upper, level, sorted.Length);
    }

    private static double[] Checked(IReadOnlyList<double>? sample, string parameter, string? paramName = null)
    {
        ArgumentNullException.ThrowIfNull(sample, paramName ?? parameter);
        if (sample.Count == 0)
            throw new ArgumentException($"{parameter} must not be empty.", paramName ?? parameter);
        var copy = sample.ToArray();
        for (int i = 0; i < copy.Length; i++)
            if (!double.IsFinite(copy[i]))
                throw new ArgumentException($"{parameter}[{i}] must be finite; got {copy[i]}.", paramName ?? parameter);
        return copy;
    }
}
