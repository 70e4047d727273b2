using System.Globalization;
using MathNet.Numerics.Distributions;
using Superalign.Cli.Reports;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using Xunit;

namespace Superalign.Tests.Experiments.Protocols;

/// <summary>
/// The paired statistics of a weak-to-strong run on hand-made rows, recomputed here by hand: loss differences, the
/// size effect, misfit against gain, and the ensemble on the single model's baseline; and the markdown tables.
/// </summary>
public sealed class WeakToStrongStatisticsTests
{
    private static WeakToStrongRow Row(string weak, string strong, int seed, string loss, double weakAcc, double student, double ceiling,
        double agreement = 0.9, double misfit = 0.02, double weakBrier = 0.3, double studentBrier = 0.25, SupervisionVariant variant = SupervisionVariant.Single)
    {
        double pgr = ceiling > weakAcc ? (student - weakAcc) / (ceiling - weakAcc) : double.NaN;
        return new WeakToStrongRow(variant, weak, strong, seed, weakAcc, student, ceiling, pgr, ceiling > weakAcc ? null : "excluded",
            new BootstrapInterval(pgr, pgr, pgr, 0.95, 0), agreement, new WeakErrorAnalysis(100, 20, 10, 8, 2), 0.1, 0.1, 0.1, null,
            loss, seed, misfit, weakBrier, studentBrier);
    }

    /// <summary>Mean and 95% t half-width of <paramref name="values"/>, computed here.</summary>
    private static (double Mean, double Half) T(params double[] values)
    {
        double mean = values.Average();
        double sd = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
        return (mean, StudentT.InvCDF(0, 1, values.Length - 1, 0.975) * sd / Math.Sqrt(values.Length));
    }

    private static void AssertSummary(SummaryStatistics? s, params double[] values)
    {
        Assert.NotNull(s);
        var (mean, half) = T(values);
        Assert.Equal(values.Length, s!.Count);
        Assert.Equal(mean, s.Mean, 12);
        Assert.Equal(mean - half, s.Lower, 12);
        Assert.Equal(mean + half, s.Upper, 12);
    }

    // Two seeds, one weak model, two strong models, losses xent and logconf.
    private static readonly WeakToStrongRow[] Rows =
    [
        Row("w", "s", 0, "xent", 0.70, 0.76, 0.90, agreement: 0.90, misfit: 0.020),
        Row("w", "s", 0, "logconf", 0.70, 0.74, 0.90, agreement: 0.88, misfit: 0.030),
        Row("w", "L", 0, "xent", 0.70, 0.77, 0.95, agreement: 0.91, misfit: 0.018),
        Row("w", "L", 0, "logconf", 0.70, 0.75, 0.95, agreement: 0.89, misfit: 0.033),
        Row("w", "s", 1, "xent", 0.72, 0.78, 0.88, agreement: 0.92, misfit: 0.021),
        Row("w", "s", 1, "logconf", 0.72, 0.79, 0.88, agreement: 0.90, misfit: 0.028),
        Row("w", "L", 1, "xent", 0.72, 0.80, 0.96, agreement: 0.92, misfit: 0.019),
        Row("w", "L", 1, "logconf", 0.72, 0.77, 0.96, agreement: 0.91, misfit: 0.035),
    ];

    private static double Pgr(int i) => Rows[i].Pgr;

    [Fact]
    public void Loss_differences_pair_rows_by_seed_and_average_over_pairs_per_seed()
    {
        var d = WeakToStrongStatistics.LossDifferences(Rows, ["xent", "logconf"], 0.95);

        Assert.Equal(3, d.Count); // all pairs, then each of the two pairs
        var all = d[0];
        Assert.Equal(("all", "all", "logconf", "xent"), (all.Weak, all.Strong, all.Loss, all.Baseline));
        // Seed 0: mean over pairs (s, L) of logconf − xent; seed 1 likewise.
        AssertSummary(all.Pgr, ((Pgr(1) - Pgr(0)) + (Pgr(3) - Pgr(2))) / 2, ((Pgr(5) - Pgr(4)) + (Pgr(7) - Pgr(6))) / 2);
        AssertSummary(all.StudentAccuracy, ((0.74 - 0.76) + (0.75 - 0.77)) / 2, ((0.79 - 0.78) + (0.77 - 0.80)) / 2);
        AssertSummary(all.Misfit, ((0.030 - 0.020) + (0.033 - 0.018)) / 2, ((0.028 - 0.021) + (0.035 - 0.019)) / 2);
        Assert.Equal(("w", "s"), (d[1].Weak, d[1].Strong));
        AssertSummary(d[1].Pgr, Pgr(1) - Pgr(0), Pgr(5) - Pgr(4));
        AssertSummary(d[2].StudentAccuracy, 0.75 - 0.77, 0.77 - 0.80);
        Assert.Empty(WeakToStrongStatistics.LossDifferences(Rows, ["xent"], 0.95));
    }

    [Fact]
    public void The_size_effect_is_largest_minus_smallest_per_seed_with_the_ceiling_and_agreement_beside_it()
    {
        var effects = WeakToStrongStatistics.SizeEffects(Rows, 0.95);

        Assert.Equal(2, effects.Count);
        var xent = effects.Single(e => e.Loss == "xent");
        Assert.Equal(("s", "L"), (xent.Smallest, xent.Largest));
        AssertSummary(xent.Pgr, Pgr(2) - Pgr(0), Pgr(6) - Pgr(4));
        AssertSummary(xent.StudentAccuracy, 0.77 - 0.76, 0.80 - 0.78);
        AssertSummary(xent.CeilingAccuracy, 0.95 - 0.90, 0.96 - 0.88);
        AssertSummary(xent.Agreement, 0.91 - 0.90, 0.92 - 0.92);
        AssertSummary(xent.Misfit, 0.018 - 0.020, 0.019 - 0.021);
    }

    [Fact]
    public void Misfit_against_gain_is_a_least_squares_line_with_its_correlation_and_the_paired_gap()
    {
        var rows = new[]
        {
            Row("w", "s", 0, "xent", 0.7, 0.8, 0.9, misfit: 0.01, weakBrier: 0.30, studentBrier: 0.28), // gain 0.02
            Row("w", "L", 0, "xent", 0.7, 0.8, 0.9, misfit: 0.02, weakBrier: 0.30, studentBrier: 0.27), // gain 0.03
            Row("w", "s", 1, "xent", 0.7, 0.8, 0.9, misfit: 0.03, weakBrier: 0.30, studentBrier: 0.26), // gain 0.04
            Row("w", "L", 1, "xent", 0.7, 0.8, 0.9, misfit: 0.04, weakBrier: 0.30, studentBrier: 0.27), // gain 0.03
        };
        var m = Assert.Single(WeakToStrongStatistics.MisfitSummaries(rows, 0.95));

        // x = 1, 2, 3, 4 (×0.01), y = 2, 3, 4, 3 (×0.01): x̄ = 2.5, ȳ = 3, Sxy = 2, Sxx = 5, Syy = 2.
        Assert.Equal(0.4, m.Slope, 10);
        Assert.Equal(0.03 - 0.4 * 0.025, m.Intercept, 10);
        Assert.Equal(2 / Math.Sqrt(10), m.Correlation, 10);
        Assert.Equal((4, 3), (m.Rows, m.GainAtLeastMisfit));
        Assert.Equal(0.025, m.Misfit, 12);
        Assert.Equal(0.03, m.Gain, 12);
        AssertSummary(m.GainMinusMisfit, ((0.30 - 0.28 - 0.01) + (0.30 - 0.27 - 0.02)) / 2, ((0.30 - 0.26 - 0.03) + (0.30 - 0.27 - 0.04)) / 2);
    }

    [Fact]
    public void The_ensemble_is_compared_with_the_single_model_on_the_single_models_baseline()
    {
        var rows = new[]
        {
            Row("w", "s", 0, "xent", 0.70, 0.76, 0.90),
            Row("w", "s", 0, "xent", 0.74, 0.78, 0.90, variant: SupervisionVariant.Ensemble),
            Row("w", "s", 1, "xent", 0.72, 0.78, 0.88),
            Row("w", "s", 1, "xent", 0.73, 0.77, 0.88, variant: SupervisionVariant.Ensemble),
        };
        var c = Assert.Single(WeakToStrongStatistics.EnsembleComparisons(rows, 0.95));

        AssertSummary(c.StudentAccuracy, 0.78 - 0.76, 0.77 - 0.78);
        AssertSummary(c.SupervisorAccuracy, 0.74 - 0.70, 0.73 - 0.72);
        // (ensemble student − single weak)/(ceiling − single weak) − single PGR = (0.78 − 0.76)/0.20 and (0.77 − 0.78)/0.16.
        AssertSummary(c.PgrOnSingleBaseline, (0.78 - 0.70) / (0.90 - 0.70) - (0.76 - 0.70) / (0.90 - 0.70), (0.77 - 0.72) / (0.88 - 0.72) - (0.78 - 0.72) / (0.88 - 0.72));
    }

    [Fact]
    public void Markdown_tables_hold_every_pair_and_paired_row_in_the_invariant_culture()
    {
        var options = new WeakToStrongOptions { Seeds = [0, 1], CompetenceLosses = ["xent", "logconf"], TaskInstancePerSeed = true };
        var pairs = Rows.GroupBy(r => (r.Strong, r.Loss)).Select(g => new WeakToStrongPairSummary(SupervisionVariant.Single, "w", g.Key.Strong, 2, 0,
            g.Average(r => r.Pgr), MeanSummary.Of(g.Select(r => r.Pgr).ToArray()), g.Average(r => r.WeakAccuracy), g.Average(r => r.StudentAccuracy),
            g.Average(r => r.CeilingAccuracy), g.Key.Loss, g.Average(r => r.Agreement), g.Average(r => r.Misfit), g.Average(r => r.BrierGain))).ToList();
        var result = new WeakToStrongResult(options, "representation-task", [0, 1], new WeakToStrongSampleSizes(8, 4, 4, 100, 8, 3), [], Rows, pairs, [], [],
            "cpu", 1, [], WeakToStrongStatistics.LossDifferences(Rows, ["xent", "logconf"], 0.95), WeakToStrongStatistics.SizeEffects(Rows, 0.95),
            WeakToStrongStatistics.MisfitSummaries(Rows, 0.95), []);
        var output = new StringWriter();
        var culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
        try
        {
            WeakToStrongReport.WriteMarkdownTables(result, output);
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
        var lines = output.ToString().Split('\n').Select(l => l.TrimEnd('\r')).ToList();

        Assert.Equal("| weak → strong | supervisor | loss | weak | student | ceiling | PGR, t over 2 instances | median PGR | agreement | misfit | Brier gain |", lines[0]);
        var p = pairs[0];
        string expected = string.Create(CultureInfo.InvariantCulture,
            $"| w → s | single | xent | {100 * p.WeakAccuracy:F1}% | {100 * p.StudentAccuracy:F1}% | {100 * p.CeilingAccuracy:F1}% | {p.Pgr!.Mean:F2} [{p.Pgr.Lower:F2}, {p.Pgr.Upper:F2}] |");
        Assert.StartsWith(expected, lines[2]);
        Assert.Equal(2 + pairs.Count, lines.TakeWhile(l => l.Length > 0).Count());
        var all = result.LossDifferences![0];
        Assert.Contains(lines, l => l.StartsWith(string.Create(CultureInfo.InvariantCulture,
            $"| logconf − xent | single | all pairs | {(all.Pgr!.Mean < 0 ? "−" : "+")}{Math.Abs(all.Pgr.Mean):0.000} ["), StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("| L − s | single | xent | ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("| xent | single | 4 | ", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"\d,\d"));
    }
}
