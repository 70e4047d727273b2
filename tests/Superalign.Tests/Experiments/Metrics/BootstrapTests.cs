using MathNet.Numerics.Distributions;
using MathNet.Numerics.Random;
using MathNet.Numerics.Statistics;
using Superalign.Experiments.Metrics;
using Xunit;

namespace Superalign.Tests.Experiments.Metrics;

public sealed class BootstrapTests
{
    private static double[] NormalSample(int n, int seed, double mean = 0, double sd = 1) =>
        new Normal(mean, sd, new Xoshiro256StarStar(seed)).Samples().Take(n).ToArray();

    [Fact]
    public void Ninety_percent_intervals_of_a_normal_mean_cover_it_about_ninety_percent_of_the_time()
    {
        // 200 datasets of 50 N(0, 1) draws; each gets a 90% percentile interval for the mean. Coverage of the true
        // mean 0 should be near 0.9: a binomial(200, 0.9) count has sd 4.2, and the percentile bootstrap
        // under-covers slightly at n = 50; [170, 190] allows both.
        int covered = 0;
        for (int d = 0; d < 200; d++)
        {
            var interval = Bootstrap.Mean(NormalSample(50, seed: 1000 + d), level: 0.9, resamples: 1000, seed: d);
            if (interval.Contains(0)) covered++;
        }
        Assert.InRange(covered, 170, 190);
    }

    [Fact]
    public void Interval_is_the_percentile_of_the_resampled_statistic()
    {
        var x = NormalSample(40, seed: 3, mean: 5, sd: 2);
        var i = Bootstrap.Mean(x, level: 0.95, resamples: 4000, seed: 1);

        // The bootstrap distribution of the mean has variance s²/n with the plug-in s² = (1/n)Σ(x − x̄)²,
        // so the interval is close to x̄ ± 1.96 · s / √n.
        double s = Math.Sqrt(x.PopulationVariance()), half = 1.959964 * s / Math.Sqrt(x.Length);
        Assert.Equal(x.Mean(), i.Estimate, 12);
        Assert.Equal(4000, i.Resamples);
        Assert.Equal(0.95, i.Level);
        Assert.InRange(i.Lower, x.Mean() - 1.1 * half, x.Mean() - 0.9 * half);
        Assert.InRange(i.Upper, x.Mean() + 0.9 * half, x.Mean() + 1.1 * half);
    }

    [Fact]
    public void Paired_bootstrap_of_a_constant_difference_is_exact()
    {
        // second = first − 0.25 on every example: every paired resample has mean difference exactly 0.25
        // (up to rounding), whereas resampling the arrays independently would give an interval ~ ±0.4 wide.
        var first = NormalSample(60, seed: 7);
        var second = first.Select(v => v - 0.25).ToArray();

        var paired = Bootstrap.MeanDifference(first, second, resamples: 500, seed: 2);

        Assert.Equal(0.25, paired.Estimate, 12);
        Assert.Equal(0.25, paired.Lower, 12);
        Assert.Equal(0.25, paired.Upper, 12);
    }

    [Fact]
    public void Paired_bootstrap_width_matches_the_closed_form_of_the_differences()
    {
        // first = shared + small noise, second = shared: the shared part (sd 3) cancels in the paired differences
        // d = noise (sd 0.1). Closed form: mean(d) ± 1.96 · s_d / √n with the plug-in s_d.
        var shared = NormalSample(80, seed: 11, sd: 3);
        var noise = NormalSample(80, seed: 12, mean: 0.05, sd: 0.1);
        var first = shared.Zip(noise, (a, b) => a + b).ToArray();
        var d = first.Zip(shared, (a, b) => a - b).ToArray();

        var i = Bootstrap.Paired(first, shared, (a, b) => a.Mean() - b.Mean(), level: 0.95, resamples: 4000, seed: 5);

        double half = 1.959964 * Math.Sqrt(d.PopulationVariance()) / Math.Sqrt(d.Length);
        Assert.Equal(d.Mean(), i.Estimate, 10);
        Assert.InRange(i.Lower, d.Mean() - 1.1 * half, d.Mean() - 0.9 * half);
        Assert.InRange(i.Upper, d.Mean() + 0.9 * half, d.Mean() + 1.1 * half);
        // Independent resampling would see the shared variance: 1.96 · 3 / √80 ≈ 0.66 ≫ half ≈ 0.02.
        Assert.True(i.Width < 0.1, $"width {i.Width}");
    }

    [Fact]
    public void Columns_overload_resamples_rows_jointly()
    {
        var a = NormalSample(30, seed: 21);
        var columns = new[] { a, a.Select(v => 2 * v).ToArray(), a.Select(v => v + 1).ToArray() };

        // For every joint resample: mean(c1) − 2·mean(c0) = 0 and mean(c2) − mean(c0) = 1.
        var i = Bootstrap.Paired(columns, c => c[1].Mean() - 2 * c[0].Mean() + c[2].Mean() - c[0].Mean(), resamples: 300);

        Assert.Equal(1, i.Lower, 10);
        Assert.Equal(1, i.Upper, 10);
    }

    [Fact]
    public void Pgr_interval_resamples_examples_jointly_for_the_three_models()
    {
        // 200 test examples; per-example correctness of the weak model (60%), student (70%) and ceiling (80%).
        var rng = new Xoshiro256StarStar(9);
        var labels = Enumerable.Range(0, 200).Select(_ => rng.Next(2)).ToArray();
        int[] Predict(double accuracy) => labels.Select(l => rng.NextDouble() < accuracy ? l : 1 - l).ToArray();
        int[] weak = Predict(0.6), student = Predict(0.7), ceiling = Predict(0.8);

        var i = Bootstrap.Pgr(ClassificationAccuracy.Correct(weak, labels), ClassificationAccuracy.Correct(student, labels), ClassificationAccuracy.Correct(ceiling, labels), resamples: 1000, seed: 4);

        Assert.Equal(PerformanceGapRecovered.FromPredictions(labels, weak, student, ceiling).Value, i.Estimate, 12);
        Assert.True(i.Lower < i.Estimate && i.Estimate < i.Upper, $"{i}");
        Assert.InRange(i.Resamples, 900, 1000); // a few resamples may lose the gap and be excluded
    }

    [Fact]
    public void Pgr_interval_drops_resamples_without_a_gap()
    {
        // Weak and ceiling identical: every resample is excluded, so there is no interval.
        var c = new double[] { 1, 0, 1, 1, 0 };
        var i = Bootstrap.Pgr(c, new double[] { 1, 1, 1, 1, 0 }, c, resamples: 100);

        Assert.Equal(0, i.Resamples);
        Assert.True(double.IsNaN(i.Estimate) && double.IsNaN(i.Lower) && double.IsNaN(i.Upper));
    }

    [Fact]
    public void Same_seed_same_interval_other_seed_other_interval()
    {
        var x = NormalSample(25, seed: 8);
        Assert.Equal(Bootstrap.Mean(x, seed: 3), Bootstrap.Mean(x, seed: 3));
        Assert.NotEqual(Bootstrap.Mean(x, seed: 3), Bootstrap.Mean(x, seed: 4));
    }

    [Fact]
    public void Bad_inputs_name_the_parameter()
    {
        var x = new[] { 1.0, 2.0 };
        Assert.Equal("level", Assert.Throws<ArgumentOutOfRangeException>(() => Bootstrap.Mean(x, level: 1)).ParamName);
        Assert.Equal("level", Assert.Throws<ArgumentOutOfRangeException>(() => Bootstrap.Mean(x, level: double.NaN)).ParamName);
        Assert.Equal("resamples", Assert.Throws<ArgumentOutOfRangeException>(() => Bootstrap.Mean(x, resamples: 0)).ParamName);
        Assert.Equal("sample", Assert.Throws<ArgumentException>(() => Bootstrap.Mean(Array.Empty<double>())).ParamName);
        Assert.Equal("sample", Assert.Throws<ArgumentException>(() => Bootstrap.Mean(new[] { 1.0, double.NaN })).ParamName);
        Assert.Equal("second", Assert.Throws<ArgumentException>(() => Bootstrap.MeanDifference(x, new[] { 1.0 })).ParamName);
        Assert.Equal("columns", Assert.Throws<ArgumentException>(() => Bootstrap.Paired(new[] { x, new[] { 1.0 } }, c => 0)).ParamName);
        Assert.Equal("ceiling", Assert.Throws<ArgumentException>(() => Bootstrap.Pgr(x, x, new[] { 1.0 })).ParamName);
        Assert.Equal("minimumGap", Assert.Throws<ArgumentOutOfRangeException>(() => Bootstrap.Pgr(x, x, x, minimumGap: -1)).ParamName);
    }
}
