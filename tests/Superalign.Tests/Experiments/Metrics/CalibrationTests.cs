using Superalign.Experiments.Metrics;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Experiments.Metrics;

public sealed class CalibrationTests
{
    // Five 2-class examples. Confidence = max prob, prediction = argmax.
    //   i  probs          label  conf  pred  correct  bin (k/10, (k+1)/10]
    //   0  [0.90, 0.10]   0      0.90  0     yes      8: (0.8, 0.9]
    //   1  [0.80, 0.20]   1      0.80  0     no       7: (0.7, 0.8]
    //   2  [0.30, 0.70]   1      0.70  1     yes      6: (0.6, 0.7]
    //   3  [0.35, 0.65]   0      0.65  1     no       6
    //   4  [0.15, 0.85]   1      0.85  1     yes      8
    // bin 8: n = 2, acc 1,   conf (0.90 + 0.85)/2 = 0.875 → 2/5 · |1 − 0.875|   = 0.4 · 0.125 = 0.05
    // bin 7: n = 1, acc 0,   conf 0.80                    → 1/5 · |0 − 0.8|     = 0.2 · 0.8   = 0.16
    // bin 6: n = 2, acc 0.5, conf (0.70 + 0.65)/2 = 0.675 → 2/5 · |0.5 − 0.675| = 0.4 · 0.175 = 0.07
    // ECE = 0.05 + 0.16 + 0.07 = 0.28. (With [lower, upper) bins it would be 0.34: the test pins the convention.)
    private static readonly double[,] Probs = { { 0.9, 0.1 }, { 0.8, 0.2 }, { 0.3, 0.7 }, { 0.35, 0.65 }, { 0.15, 0.85 } };
    private static readonly int[] Labels = { 0, 1, 1, 0, 1 };

    [Fact]
    public void Ece_matches_the_hand_computed_value()
    {
        Assert.Equal(0.28, Calibration.ExpectedCalibrationError(Probs, Labels), 12);
    }

    [Fact]
    public void One_bin_compares_overall_accuracy_with_mean_confidence()
    {
        // accuracy 3/5 = 0.6, mean confidence (0.9 + 0.8 + 0.7 + 0.65 + 0.85)/5 = 0.78 → 0.18
        Assert.Equal(0.18, Calibration.ExpectedCalibrationError(Probs, Labels, bins: 1), 12);
    }

    [Fact]
    public void Reliability_diagram_holds_every_bin()
    {
        var bins = Calibration.ReliabilityDiagram(new[] { 0.9, 0.8, 0.7, 0.65, 0.85 }, new[] { true, false, true, false, true });

        Assert.Equal(10, bins.Count);
        Assert.Equal(new[] { 0, 0, 0, 0, 0, 0, 2, 1, 2, 0 }, bins.Select(b => b.Count));
        Assert.Equal(0.875, bins[8].Confidence, 12);
        Assert.Equal(0.5, bins[6].Accuracy, 12);
        Assert.True(double.IsNaN(bins[0].Accuracy));
        Assert.Equal(0.8, bins[8].Lower, 12);
        Assert.Equal(0.9, bins[8].Upper, 12);
    }

    [Fact]
    public void Tensor_overload_agrees_and_leaks_nothing()
    {
        using var scope = NewDisposeScope();
        var p = tensor(new double[] { 0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.35, 0.65, 0.15, 0.85 }, new long[] { 5, 2 }, ScalarType.Float64);
        var y = tensor(new long[] { 0, 1, 1, 0, 1 });
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        double ece = Calibration.ExpectedCalibrationError(p, y);

        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.Equal(0.28, ece, 12);
    }

    [Fact]
    public void Confidence_zero_falls_in_the_first_bin()
    {
        var bins = Calibration.ReliabilityDiagram(new[] { 0.0, 1.0 }, new[] { false, true }, bins: 4);
        Assert.Equal(1, bins[0].Count);
        Assert.Equal(1, bins[3].Count);
        Assert.Equal(0, Calibration.ExpectedCalibrationError(new[] { 0.0, 1.0 }, new[] { false, true }, bins: 4), 12);
    }

    [Theory]
    // 0.07 · 100 rounds up to 7.000000000000001, and the double just above 0.35 times 100 rounds down to 35:
    // a bin index from ⌈c · M⌉ − 1 alone would misplace both.
    [InlineData(0.07, 100, 6)]
    [InlineData(0.56, 100, 55)]
    [InlineData(0.35, 100, 34)]
    [InlineData(-1, 100, 35)] // Math.BitIncrement(0.35)
    [InlineData(-2, 20, 17)]  // Math.BitIncrement(0.85)
    public void Bins_follow_their_edges_exactly_despite_rounding(double confidence, int bins, int expectedBin)
    {
        confidence = confidence switch { -1 => Math.BitIncrement(0.35), -2 => Math.BitIncrement(0.85), _ => confidence };
        var diagram = Calibration.ReliabilityDiagram(new[] { confidence }, new[] { true }, bins);
        Assert.Equal(1, diagram[expectedBin].Count);
        Assert.True(diagram[expectedBin].Lower < confidence && confidence <= diagram[expectedBin].Upper);
    }

    [Fact]
    public void Bad_inputs_name_the_parameter()
    {
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => Calibration.ExpectedCalibrationError(Probs, new[] { 0, 1 })).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => Calibration.ExpectedCalibrationError(Probs, new[] { 0, 1, 2, 0, 1 })).ParamName);
        Assert.Equal("probabilities", Assert.Throws<ArgumentException>(() => Calibration.ExpectedCalibrationError(new double[,] { { 1.2, -0.2 } }, new[] { 0 })).ParamName);
        Assert.Equal("probabilities", Assert.Throws<ArgumentException>(() => Calibration.ExpectedCalibrationError(new double[0, 2], Array.Empty<int>())).ParamName);
        Assert.Equal("bins", Assert.Throws<ArgumentOutOfRangeException>(() => Calibration.ExpectedCalibrationError(Probs, Labels, bins: 0)).ParamName);
        Assert.Equal("confidences", Assert.Throws<ArgumentException>(() => Calibration.ExpectedCalibrationError(new[] { double.NaN }, new[] { true })).ParamName);
        Assert.Equal("correct", Assert.Throws<ArgumentException>(() => Calibration.ExpectedCalibrationError(new[] { 0.5 }, new[] { true, false })).ParamName);
        using var scope = NewDisposeScope();
        Assert.Equal("probabilities", Assert.Throws<ArgumentException>(() => Calibration.ExpectedCalibrationError(zeros(3), zeros(3, ScalarType.Int64))).ParamName);
    }
}
