using MathNet.Numerics.Distributions;
using MathNet.Numerics.Random;
using Superalign.Experiments.Metrics;
using Xunit;

namespace Superalign.Tests.Experiments.Metrics;

public sealed class SummaryTests
{
    [Fact]
    public void Student_t_interval_over_five_seeds_matches_the_hand_computation()
    {
        // mean 3, sd √2.5 = 1.58114, t(0.975, 4 df) = 2.776445, half-width 2.776445 · 1.58114 / √5 = 1.963243.
        var s = MeanSummary.Of(new[] { 1.0, 2, 3, 4, 5 });

        Assert.Equal(3, s.Mean, 12);
        Assert.Equal(Math.Sqrt(2.5), s.StandardDeviation, 12);
        Assert.Equal(Math.Sqrt(2.5) / Math.Sqrt(5), s.StandardError, 12);
        Assert.Equal(3 - 1.963243, s.Lower, 5);
        Assert.Equal(3 + 1.963243, s.Upper, 5);
        Assert.Equal(5, s.Count);
        Assert.Equal(IntervalMethod.StudentT, s.Method);
        Assert.Contains("n = 5", s.ToString());
    }

    [Fact]
    public void Student_t_intervals_cover_the_mean_at_their_level()
    {
        // 400 experiments of 5 seeds from N(1, 0.5²): a 90% t interval is exact for normal data.
        var normal = new Normal(1, 0.5, new Xoshiro256StarStar(17));
        int covered = 0;
        for (int e = 0; e < 400; e++)
        {
            var s = MeanSummary.Of(normal.Samples().Take(5).ToArray(), level: 0.9);
            if (s.Lower <= 1 && 1 <= s.Upper) covered++;
        }
        Assert.InRange(covered, 345, 375); // 360 ± 2.5 sd (sd = 6)
    }

    [Fact]
    public void Bootstrap_interval_lies_within_the_data_and_holds_the_mean()
    {
        var values = new[] { 0.61, 0.64, 0.58, 0.70, 0.66, 0.63 };
        var s = MeanSummary.Of(values, method: IntervalMethod.Bootstrap, resamples: 2000, seed: 1);

        Assert.Equal(IntervalMethod.Bootstrap, s.Method);
        Assert.InRange(s.Lower, values.Min(), s.Mean);
        Assert.InRange(s.Upper, s.Mean, values.Max());
        // Narrower than the t interval, whose quantile is larger for 5 degrees of freedom.
        Assert.True(s.Upper - s.Lower < MeanSummary.Of(values).Upper - MeanSummary.Of(values).Lower);
    }

    [Fact]
    public void A_single_seed_has_no_spread_or_interval()
    {
        var s = MeanSummary.Of(new[] { 0.7 });
        Assert.Equal(0.7, s.Mean);
        Assert.True(double.IsNaN(s.StandardDeviation) && double.IsNaN(s.Lower) && double.IsNaN(s.Upper));
    }

    [Fact]
    public void Bad_inputs_name_the_parameter()
    {
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => MeanSummary.Of(Array.Empty<double>())).ParamName);
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => MeanSummary.Of(new[] { 1, double.NaN })).ParamName);
        Assert.Equal("level", Assert.Throws<ArgumentOutOfRangeException>(() => MeanSummary.Of(new[] { 1.0, 2 }, level: 0)).ParamName);
        Assert.Equal("method", Assert.Throws<ArgumentOutOfRangeException>(() => MeanSummary.Of(new[] { 1.0, 2 }, method: (IntervalMethod)7)).ParamName);
    }
}
