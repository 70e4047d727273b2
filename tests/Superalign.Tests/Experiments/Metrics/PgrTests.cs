using Superalign.Experiments.Metrics;
using Xunit;

namespace Superalign.Tests.Experiments.Metrics;

public sealed class PgrTests
{
    private const double Tol = 1e-12;

    [Theory]
    // weak, student, ceiling, expected = (student − weak) / (ceiling − weak)
    [InlineData(0.6, 0.7, 0.8, 0.5)]     // half the gap
    [InlineData(0.6, 0.8, 0.8, 1.0)]     // student = ceiling
    [InlineData(0.6, 0.6, 0.8, 0.0)]     // student = weak
    [InlineData(0.6, 0.9, 0.8, 1.5)]     // student beats the ceiling
    [InlineData(0.6, 0.5, 0.8, -0.5)]    // student worse than its supervisor
    [InlineData(0.5, 0.55, 0.7, 0.25)]
    public void Pgr_is_the_fraction_of_the_gap_recovered(double weak, double student, double ceiling, double expected)
    {
        var r = PerformanceGapRecovered.Compute(weak, student, ceiling);

        Assert.False(r.Excluded);
        Assert.Null(r.ExclusionReason);
        Assert.Equal(expected, r.Value, Tol);
        Assert.Equal(ceiling - weak, r.Gap, Tol);
        Assert.False(r.LowerIsBetter);
    }

    [Theory]
    [InlineData(0.7, 0.75, 0.7)]   // gap 0: the ceiling does not beat the weak model
    [InlineData(0.7, 0.75, 0.65)]  // negative gap: the ratio would flip sign
    public void Pairs_whose_ceiling_does_not_beat_the_weak_model_are_excluded(double weak, double student, double ceiling)
    {
        var r = PerformanceGapRecovered.Compute(weak, student, ceiling);

        Assert.True(r.Excluded);
        Assert.True(double.IsNaN(r.Value));
        Assert.Contains("does not beat", r.ExclusionReason);
    }

    [Fact]
    public void Minimum_gap_raises_the_exclusion_threshold()
    {
        // gap 0.04 ≤ 0.05: excluded; gap 0.1 > 0.05: PGR = 0.02 / 0.1.
        Assert.True(PerformanceGapRecovered.Compute(0.6, 0.62, 0.64, minimumGap: 0.05).Excluded);
        Assert.False(PerformanceGapRecovered.Compute(0.6, 0.62, 0.64).Excluded);
        Assert.Equal(0.2, PerformanceGapRecovered.Compute(0.6, 0.62, 0.7, minimumGap: 0.05).Value, Tol);
        // The threshold is strict: a gap exactly at the minimum is excluded.
        Assert.True(PerformanceGapRecovered.Compute(0.5, 0.6, 0.75, minimumGap: 0.25).Excluded);
    }

    [Fact]
    public void Loss_pgr_measures_the_loss_reduction_recovered()
    {
        // (1.0 − 0.8) / (1.0 − 0.6) = 0.5
        var r = PerformanceGapRecovered.FromLoss(1.0, 0.8, 0.6);
        Assert.Equal(0.5, r.Value, Tol);
        Assert.Equal(0.4, r.Gap, Tol);
        Assert.True(r.LowerIsBetter);
        // A ceiling with a higher loss than the weak model does not beat it.
        Assert.True(PerformanceGapRecovered.FromLoss(0.5, 0.4, 0.6).Excluded);
    }

    [Fact]
    public void Median_is_taken_over_included_pairs_only()
    {
        var pairs = new[]
        {
            (0.6, 0.7, 0.8),    // 0.5
            (0.5, 0.8, 0.9),    // 0.75
            (0.7, 0.72, 0.7),   // excluded
            (0.5, 0.55, 0.7),   // 0.25
            (0.6, 0.9, 0.8),    // 1.5
            (0.8, 0.7, 0.75),   // excluded
        };
        var summary = PerformanceGapRecovered.Median(pairs);

        // Included sorted: 0.25, 0.5, 0.75, 1.5 → median (0.5 + 0.75) / 2 = 0.625 (the mean would be 0.75; counting
        // the excluded pairs as 0 would give 0.375).
        Assert.Equal(0.625, summary.Median, Tol);
        Assert.Equal(4, summary.Included);
        Assert.Equal(2, summary.Excluded);
        Assert.Equal(6, summary.Pairs.Count);
        Assert.Null(summary.Reason);

        // Odd count: 0.25, 0.5, 0.75 → 0.5.
        Assert.Equal(0.5, PerformanceGapRecovered.Median(pairs.Take(4)).Median, Tol);
    }

    [Fact]
    public void Median_of_only_excluded_pairs_is_nan_with_a_reason()
    {
        var summary = PerformanceGapRecovered.Median(new[] { (0.7, 0.8, 0.6), (0.5, 0.6, 0.5) });

        Assert.True(double.IsNaN(summary.Median));
        Assert.Equal(0, summary.Included);
        Assert.Equal(2, summary.Excluded);
        Assert.NotNull(summary.Reason);
    }

    [Fact]
    public void Pgr_from_predictions_uses_test_accuracies()
    {
        int[] labels = { 0, 1, 0, 1, 0, 1, 0, 1, 0, 1 };
        int[] weak = { 0, 1, 0, 1, 0, 1, 1, 0, 1, 0 };     // 6/10
        int[] student = { 0, 1, 0, 1, 0, 1, 0, 0, 1, 0 };  // 7/10
        int[] ceiling = { 0, 1, 0, 1, 0, 1, 0, 1, 1, 0 };  // 8/10

        Assert.Equal(0.5, PerformanceGapRecovered.FromPredictions(labels, weak, student, ceiling).Value, 1e-12);
    }

    [Fact]
    public void Bad_inputs_name_the_parameter()
    {
        Assert.Equal("weak", Assert.Throws<ArgumentOutOfRangeException>(() => PerformanceGapRecovered.Compute(double.NaN, 0.5, 0.8)).ParamName);
        Assert.Equal("ceiling", Assert.Throws<ArgumentOutOfRangeException>(() => PerformanceGapRecovered.Compute(0.5, 0.5, double.PositiveInfinity)).ParamName);
        Assert.Equal("minimumGap", Assert.Throws<ArgumentOutOfRangeException>(() => PerformanceGapRecovered.Compute(0.5, 0.6, 0.8, -0.1)).ParamName);
        Assert.Equal("studentLoss", Assert.Throws<ArgumentOutOfRangeException>(() => PerformanceGapRecovered.FromLoss(1, double.NaN, 0.5)).ParamName);
        Assert.Equal("pairs", Assert.Throws<ArgumentException>(() => PerformanceGapRecovered.Median(Array.Empty<PgrResult>())).ParamName);
        Assert.Equal("student", Assert.Throws<ArgumentException>(() => PerformanceGapRecovered.FromPredictions(new[] { 0, 1 }, new[] { 0, 1 }, new[] { 0 }, new[] { 0, 1 })).ParamName);
    }
}
