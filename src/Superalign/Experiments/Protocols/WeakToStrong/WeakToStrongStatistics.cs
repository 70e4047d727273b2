using Superalign.Experiments.Metrics;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// The paired statistics of a weak-to-strong run, computed from its rows alone: loss differences, the student-size
/// effect, misfit against gain, and the ensemble on a consistent baseline. Every interval is a Student-t interval over
/// seeds of a per-seed paired difference (so what varies between seeds — the split, and with
/// <see cref="WeakToStrongOptions.TaskInstancePerSeed"/> the task instance — is the unit of replication).
/// </summary>
internal static class WeakToStrongStatistics
{
    /// <summary>Each loss after the first minus the first, per (variant, weak, strong) and over all pairs.</summary>
    public static IReadOnlyList<WeakToStrongLossDifference> LossDifferences(IReadOnlyList<WeakToStrongRow> rows, IReadOnlyList<string> losses, double level)
    {
        var result = new List<WeakToStrongLossDifference>();
        if (losses.Count < 2) return result;
        string baseline = losses[0];
        var byKey = rows.ToDictionary(r => (r.Variant, r.Weak, r.Strong, r.Seed, r.Loss));
        foreach (var variant in rows.Select(r => r.Variant).Distinct())
        {
            var pairs = rows.Where(r => r.Variant == variant).Select(r => (r.Weak, r.Strong)).Distinct().ToList();
            var seeds = rows.Where(r => r.Variant == variant).Select(r => r.Seed).Distinct().ToList();
            foreach (string loss in losses.Skip(1))
            {
                // Per seed and pair: (PGR difference or NaN when either row is excluded, accuracy difference, misfit difference).
                var diffs = new List<(string Weak, string Strong, int Seed, double Pgr, double Accuracy, double Misfit)>();
                foreach (var (weak, strong) in pairs)
                foreach (int seed in seeds)
                {
                    if (!byKey.TryGetValue((variant, weak, strong, seed, baseline), out var b) ||
                        !byKey.TryGetValue((variant, weak, strong, seed, loss), out var r)) continue;
                    double pgr = b.Excluded || r.Excluded ? double.NaN : r.Pgr - b.Pgr;
                    diffs.Add((weak, strong, seed, pgr, r.StudentAccuracy - b.StudentAccuracy, r.Misfit - b.Misfit));
                }
                if (diffs.Count == 0) continue;
                var perSeed = diffs.GroupBy(d => d.Seed).ToList();
                result.Add(new WeakToStrongLossDifference(variant, "all", "all", loss, baseline,
                    ClassifierTraining.SummaryOrNull(perSeed.Select(g => MeanOfFinite(g.Select(d => d.Pgr))), level),
                    Summary(perSeed.Select(g => g.Average(d => d.Accuracy)), level),
                    Summary(perSeed.Select(g => MeanOfFinite(g.Select(d => d.Misfit))), level)));
                foreach (var (weak, strong) in pairs)
                {
                    var pair = diffs.Where(d => d.Weak == weak && d.Strong == strong).ToList();
                    if (pair.Count == 0) continue;
                    result.Add(new WeakToStrongLossDifference(variant, weak, strong, loss, baseline,
                        ClassifierTraining.SummaryOrNull(pair.Select(d => d.Pgr), level),
                        Summary(pair.Select(d => d.Accuracy), level),
                        Summary(pair.Select(d => d.Misfit), level)));
                }
            }
        }
        return result;
    }

    /// <summary>Largest minus smallest strong model (the last and first of the rows' strong models), per (variant, loss).</summary>
    public static IReadOnlyList<WeakToStrongSizeEffect> SizeEffects(IReadOnlyList<WeakToStrongRow> rows, double level)
    {
        var result = new List<WeakToStrongSizeEffect>();
        var strong = rows.Select(r => r.Strong).Distinct().ToList();
        if (strong.Count < 2) return result;
        var (smallest, largest) = (strong[0], strong[^1]);
        var byKey = rows.ToDictionary(r => (r.Variant, r.Weak, r.Strong, r.Seed, r.Loss));
        foreach (var group in rows.GroupBy(r => (r.Variant, r.Loss)))
        {
            var perSeed = new List<(double Pgr, double Student, double Ceiling, double Agreement, double Misfit)>();
            foreach (var seed in group.Select(r => r.Seed).Distinct())
            {
                var matched = group.Where(r => r.Seed == seed && r.Strong == smallest)
                    .Select(s => (Small: s, Large: byKey.GetValueOrDefault((s.Variant, s.Weak, largest, seed, s.Loss))))
                    .Where(p => p.Large is not null).Select(p => (p.Small, Large: p.Large!)).ToList();
                if (matched.Count == 0) continue;
                perSeed.Add((
                    MeanOfFinite(matched.Select(p => p.Small.Excluded || p.Large.Excluded ? double.NaN : p.Large.Pgr - p.Small.Pgr)),
                    matched.Average(p => p.Large.StudentAccuracy - p.Small.StudentAccuracy),
                    matched.Average(p => p.Large.CeilingAccuracy - p.Small.CeilingAccuracy),
                    matched.Average(p => p.Large.Agreement - p.Small.Agreement),
                    MeanOfFinite(matched.Select(p => p.Large.Misfit - p.Small.Misfit))));
            }
            if (perSeed.Count == 0) continue;
            result.Add(new WeakToStrongSizeEffect(group.Key.Variant, group.Key.Loss, smallest, largest,
                ClassifierTraining.SummaryOrNull(perSeed.Select(p => p.Pgr), level),
                Summary(perSeed.Select(p => p.Student), level), Summary(perSeed.Select(p => p.Ceiling), level),
                Summary(perSeed.Select(p => p.Agreement), level), Summary(perSeed.Select(p => p.Misfit), level)));
        }
        return result;
    }

    /// <summary>Misfit against Brier gain over the rows of each (variant, loss).</summary>
    public static IReadOnlyList<WeakToStrongMisfitSummary> MisfitSummaries(IReadOnlyList<WeakToStrongRow> rows, double level)
    {
        var result = new List<WeakToStrongMisfitSummary>();
        foreach (var group in rows.GroupBy(r => (r.Variant, r.Loss)))
        {
            var finite = group.Where(r => double.IsFinite(r.Misfit) && double.IsFinite(r.BrierGain)).ToList();
            if (finite.Count == 0) continue;
            var (slope, intercept, correlation) = Line(finite.Select(r => r.Misfit).ToArray(), finite.Select(r => r.BrierGain).ToArray());
            result.Add(new WeakToStrongMisfitSummary(group.Key.Variant, group.Key.Loss, finite.Count,
                finite.Average(r => r.Misfit), finite.Average(r => r.BrierGain), slope, intercept, correlation,
                finite.Count(r => r.BrierGain >= r.Misfit),
                Summary(finite.GroupBy(r => r.Seed).Select(g => g.Average(r => r.BrierGain - r.Misfit)), level)));
        }
        return result;
    }

    /// <summary>Ensemble-taught against single-taught students, matched by (weak, strong, seed, loss).</summary>
    public static IReadOnlyList<WeakToStrongEnsembleComparison> EnsembleComparisons(IReadOnlyList<WeakToStrongRow> rows, double level)
    {
        var single = rows.Where(r => r.Variant == SupervisionVariant.Single).ToDictionary(r => (r.Weak, r.Strong, r.Seed, r.Loss));
        return rows.Where(r => r.Variant == SupervisionVariant.Ensemble)
            .Select(e => (Ensemble: e, Single: single.GetValueOrDefault((e.Weak, e.Strong, e.Seed, e.Loss))))
            .Where(p => p.Single is not null)
            .GroupBy(p => (p.Ensemble.Weak, p.Ensemble.Strong, p.Ensemble.Loss))
            .Select(g => new WeakToStrongEnsembleComparison(g.Key.Weak, g.Key.Strong, g.Key.Loss,
                Summary(g.Select(p => p.Ensemble.StudentAccuracy - p.Single!.StudentAccuracy), level),
                Summary(g.Select(p => p.Ensemble.WeakAccuracy - p.Single!.WeakAccuracy), level),
                ClassifierTraining.SummaryOrNull(g.Select(p => p.Single!.Excluded ? double.NaN
                    : (p.Ensemble.StudentAccuracy - p.Single.WeakAccuracy) / (p.Single.CeilingAccuracy - p.Single.WeakAccuracy) - p.Single.Pgr), level)))
            .ToList();
    }

    /// <summary>Least-squares line of <paramref name="y"/> on <paramref name="x"/> and their Pearson correlation (NaN where undefined).</summary>
    internal static (double Slope, double Intercept, double Correlation) Line(double[] x, double[] y)
    {
        double mx = x.Average(), my = y.Average();
        double sxx = x.Sum(v => (v - mx) * (v - mx)), syy = y.Sum(v => (v - my) * (v - my));
        double sxy = x.Zip(y, (a, b) => (a - mx) * (b - my)).Sum();
        double slope = sxx > 0 ? sxy / sxx : double.NaN;
        return (slope, double.IsNaN(slope) ? double.NaN : my - slope * mx, sxx > 0 && syy > 0 ? sxy / Math.Sqrt(sxx * syy) : double.NaN);
    }

    private static double MeanOfFinite(IEnumerable<double> values)
    {
        var finite = values.Where(double.IsFinite).ToArray();
        return finite.Length == 0 ? double.NaN : finite.Average();
    }

    private static SummaryStatistics Summary(IEnumerable<double> values, double level) =>
        ClassifierTraining.SummaryOrNull(values, level) ?? new SummaryStatistics(double.NaN, double.NaN, double.NaN, double.NaN, level, 0, IntervalMethod.StudentT);
}
