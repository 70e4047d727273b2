using System.Globalization;
using MathNet.Numerics.Distributions;
using MathNet.Numerics.Statistics;

namespace Superalign.Experiments.Metrics;

/// <summary>How <see cref="MeanSummary"/> builds its interval for the mean.</summary>
public enum IntervalMethod
{
    /// <summary>
    /// Student-t interval <c>mean ± t_{n−1, (1+level)/2} · sd / √n</c>: exact for normal data, the usual choice for a
    /// handful of seeds.
    /// </summary>
    StudentT,

    /// <summary>Percentile bootstrap of the mean (<see cref="Bootstrap.Mean"/>): no normality assumption, but too narrow for very few values.</summary>
    Bootstrap,
}

/// <summary>A result reported "with an interval over seeds": mean, spread and a confidence interval for the mean.</summary>
/// <param name="Mean">Sample mean.</param>
/// <param name="StandardDeviation">Sample standard deviation (n − 1 denominator); NaN for a single value.</param>
/// <param name="Lower">Lower end of the interval for the mean; NaN for a single value.</param>
/// <param name="Upper">Upper end of the interval for the mean; NaN for a single value.</param>
/// <param name="Level">Nominal coverage of the interval.</param>
/// <param name="Count">Number of values (seeds).</param>
/// <param name="Method">How the interval was built.</param>
public sealed record SummaryStatistics(double Mean, double StandardDeviation, double Lower, double Upper, double Level, int Count, IntervalMethod Method)
{
    /// <summary>Standard error of the mean, <c>sd / √n</c>; NaN for a single value.</summary>
    public double StandardError => StandardDeviation / Math.Sqrt(Count);

    /// <summary>Formats the summary as <c>mean [lower, upper] (95% CI, sd, n)</c> with invariant culture.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Mean:G4} [{Lower:G4}, {Upper:G4}] ({Level:P0} CI, {Method}; sd {StandardDeviation:G3}, n = {Count})");
}

/// <summary>Summary statistics over repeated runs (seeds), for reporting results with intervals.</summary>
public static class MeanSummary
{
    /// <summary>Mean, standard deviation and a confidence interval for the mean of <paramref name="values"/>.</summary>
    /// <param name="values">One finite value per seed (at least one). Drop excluded (NaN) PGRs before summarising.</param>
    /// <param name="level">Confidence level in (0, 1).</param>
    /// <param name="method">Student-t (default) or percentile bootstrap interval.</param>
    /// <param name="resamples">Bootstrap resamples (only for <see cref="IntervalMethod.Bootstrap"/>; at least 1).</param>
    /// <param name="seed">Bootstrap seed (only for <see cref="IntervalMethod.Bootstrap"/>).</param>
    /// <exception cref="ArgumentException">Empty or non-finite values, or an argument out of range (the exception names it).</exception>
    public static SummaryStatistics Of(IReadOnlyList<double> values, double level = 0.95, IntervalMethod method = IntervalMethod.StudentT,
        int resamples = Bootstrap.DefaultResamples, int seed = 0)
    {
        MetricInputs.NotEmpty(values, nameof(values));
        MetricInputs.Finite(values, nameof(values));
        MetricInputs.Level(level);
        MetricInputs.AtLeast(resamples, 1, nameof(resamples));
        if (!Enum.IsDefined(method))
            throw new ArgumentOutOfRangeException(nameof(method), method, $"{nameof(method)} must be one of {string.Join(", ", Enum.GetNames<IntervalMethod>())}.");
        int n = values.Count;
        double mean = values.Mean();
        if (n == 1) return new SummaryStatistics(mean, double.NaN, double.NaN, double.NaN, level, 1, method);
        double sd = values.StandardDeviation();
        double lower, upper;
        if (method == IntervalMethod.StudentT)
        {
            double half = StudentT.InvCDF(0, 1, n - 1, (1 + level) / 2) * sd / Math.Sqrt(n);
            (lower, upper) = (mean - half, mean + half);
        }
        else
        {
            var interval = Bootstrap.Mean(values, level, resamples, seed);
            (lower, upper) = (interval.Lower, interval.Upper);
        }
        return new SummaryStatistics(mean, sd, lower, upper, level, n, method);
    }
}
