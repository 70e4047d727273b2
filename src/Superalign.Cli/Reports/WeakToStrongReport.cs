using System.Globalization;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using Superalign.Experiments.Tasks;
using static Superalign.Cli.Reports.ReportFormat;

namespace Superalign.Cli.Reports;

/// <summary>
/// Weak-to-strong: the trunks, one table per (weak, strong, loss) with PGR per seed, PGR per strong size, the median
/// PGR, and the paired statistics (loss differences, student-size effect, misfit against gain, ensemble against single);
/// and the markdown tables of <c>docs/results.md</c>.
/// </summary>
internal static class WeakToStrongReport
{
    public static void Write(WeakToStrongResult result, TextWriter output)
    {
        var options = result.Options;
        output.WriteLine($"weak-to-strong on the representation task: seeds {string.Join(",", options.Seeds)}, loss {string.Join(", ", options.CompetenceLosses ?? [options.CompetenceLoss])}" +
                         $"{(options.TrustedExamples is { } trusted ? $" ({trusted} trusted examples)" : "")}, " +
                         $"{options.Steps} steps at lr {options.LearningRate} batch {options.BatchSize}, ensemble {(options.Ensemble ? $"{options.EnsembleMembers} members ({options.EnsembleCombination})" : "off")}, " +
                         $"task instance {(options.TaskInstancePerSeed ? $"per seed (task seed {options.Task.Seed} + seed)" : $"shared (task seed {options.Task.Seed})")}");
        var s = result.SampleSizes;
        output.WriteLine($"data: {s.Train} training examples (A = {s.WeakTraining} for the weak models, B = {s.StrongTraining} for students and ceilings), " +
                         $"{s.Test} test examples, {s.Features} features, {s.Classes} classes; device {result.Device}");
        output.WriteLine();
        output.WriteLine("pretrained trunks (R² on fresh inputs: of the auxiliary tasks, and of h* read linearly from the features)");
        output.WriteLine($"  {"instance",8} {"trunk",-10} {"aux R²",7} {"h* R²",7} {"seconds",8}");
        foreach (var (instance, t) in Trunks(result))
            output.WriteLine($"  {instance,8} {t.Spec.Name,-10} {t.AuxiliaryR2,7:F3} {t.RepresentationR2,7:F3} {t.PretrainSeconds,8:F1}");

        foreach (var pair in result.Pairs)
        {
            output.WriteLine();
            string supervisor = pair.Variant == SupervisionVariant.Single ? pair.Weak : $"ensemble of {options.EnsembleMembers}× {pair.Weak} ({options.EnsembleCombination})";
            output.WriteLine($"{supervisor} -> {pair.Strong}, loss {pair.Loss}");
            output.WriteLine($"  {"seed",4} {"weak",6} {"student",7} {"ceiling",7} {"PGR",6} {"95% CI",-16} {"agree",6} {"copied",7} {"fixed",7} {"misfit",6} {"gain",6} {"ECE w/s/c",-17}{(pair.Variant == SupervisionVariant.Ensemble ? " members split" : "")}");
            foreach (var r in result.Rows.Where(r => r.Variant == pair.Variant && r.Weak == pair.Weak && r.Strong == pair.Strong && r.Loss == pair.Loss))
            {
                var e = r.WeakErrors;
                output.WriteLine(
                    $"  {r.Seed,4} {r.WeakAccuracy,6:P1} {r.StudentAccuracy,7:P1} {r.CeilingAccuracy,7:P1} {Pgr(r.Pgr),6} {Ci(r.PgrInterval),-16} {r.Agreement,6:P1} {e.Copied,4}/{e.WeakErrors,-4} {e.Corrected,4}/{e.WeakErrors,-4} {r.Misfit,6:F3} {r.BrierGain,6:F3} {r.WeakEce:F3}/{r.StudentEce:F3}/{r.CeilingEce:F3}" +
                    (r.MemberDisagreement is { } d ? $"   {d.ArgmaxDisagreement,6:P1}" : ""));
            }
            output.WriteLine(
                $"  mean {pair.WeakAccuracy,6:P1} {pair.StudentAccuracy,7:P1} {pair.CeilingAccuracy,7:P1}  PGR over seeds: {(pair.Pgr is { } p ? $"{p.Mean:F2} [{p.Lower:F2}, {p.Upper:F2}] (t, n = {p.Count})" : "none included")}, median {Pgr(pair.MedianPgr)}" +
                (pair.Excluded > 0 ? $", {pair.Excluded} seed(s) excluded" : ""));
        }

        output.WriteLine();
        output.WriteLine("PGR per strong size (per seed: mean over weak models; mean over seeds with a 95% t-interval)");
        foreach (var z in result.StrongSizes)
            output.WriteLine($"  {z.Variant,-8} {z.Loss,-8} {z.Strong,-10} {(z.Pgr is { } p ? $"{p.Mean:F2} [{p.Lower:F2}, {p.Upper:F2}] (n = {p.Count})" : "none included")}");
        foreach (var v in result.Variants)
            output.WriteLine($"median PGR ({v.Variant}, {v.Loss}, over {v.Included} (weak, strong, seed) rows{(v.Excluded > 0 ? $", {v.Excluded} excluded" : "")}): {Pgr(v.MedianPgr)}");

        if (result.LossDifferences is { Count: > 0 } differences)
        {
            output.WriteLine();
            output.WriteLine("paired loss differences (same seed, split, weak labels and ceiling; per seed averaged over the pairs in scope; t over seeds)");
            foreach (var d in differences)
                output.WriteLine($"  {d.Variant,-8} {d.Loss} − {d.Baseline} {Scope(d.Weak, d.Strong),-22} PGR {Number(d.Pgr)}  student {Difference(d.StudentAccuracy)}  misfit {Signed(d.Misfit, "F4")}");
        }
        if (result.SizeEffects is { Count: > 0 } sizes)
        {
            output.WriteLine();
            output.WriteLine("student-size effect, largest − smallest strong model (same weak model and seed; per seed averaged over weak models; t over seeds)");
            foreach (var z in sizes)
                output.WriteLine($"  {z.Variant,-8} {z.Loss,-8} {z.Largest} − {z.Smallest}: PGR {Number(z.Pgr)}  student {Difference(z.StudentAccuracy)}  ceiling {Difference(z.CeilingAccuracy)}  agreement {Difference(z.Agreement)}  misfit {Signed(z.Misfit, "F4")}");
        }
        if (result.MisfitSummaries is { Count: > 0 } misfits)
        {
            output.WriteLine();
            output.WriteLine("misfit ‖p_student − p_weak‖² against gain (Brier_weak − Brier_student) on the test set (Charikar et al. 2024: gain ≥ misfit in their setting)");
            foreach (var m in misfits)
                output.WriteLine($"  {m.Variant,-8} {m.Loss,-8} {m.Rows} rows: misfit {m.Misfit:F4}, gain {m.Gain:F4}, gain = {m.Slope:F2}·misfit {m.Intercept:+0.0000;-0.0000}, r = {m.Correlation:F2}, gain ≥ misfit on {m.GainAtLeastMisfit}/{m.Rows}, gain − misfit {Signed(m.GainMinusMisfit, "F4")}");
        }
        if (result.EnsembleComparisons is { Count: > 0 } ensembles)
        {
            output.WriteLine();
            output.WriteLine("ensemble against single supervisor on one baseline (paired by seed; t over seeds): the ensemble rows' own PGR divides by a different weak baseline");
            foreach (var c in ensembles)
                output.WriteLine($"  {c.Weak} -> {c.Strong} ({c.Loss}): supervisor {Difference(c.SupervisorAccuracy)}, student {Difference(c.StudentAccuracy)}, PGR on the single model's baseline − single PGR {Number(c.PgrOnSingleBaseline)}");
        }
    }

    /// <summary>
    /// The markdown tables of the weak-to-strong section of <c>docs/results.md</c>, from a result alone (invariant
    /// culture): per (weak → strong, loss) accuracies, PGR with its t-interval over seeds, agreement, misfit and gain;
    /// the paired loss differences; the student-size effect; misfit against gain; and, with the ensemble variant, the
    /// ensemble against the single supervisor on one baseline.
    /// </summary>
    /// <param name="result">A weak-to-strong result (e.g. read from a committed <c>result.json</c>).</param>
    /// <param name="output">Where the tables are written.</param>
    public static void WriteMarkdownTables(WeakToStrongResult result, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(output);
        var seeds = result.Seeds;
        string units = result.Options.TaskInstancePerSeed ? "instances" : "seeds";
        Line(output, $"| weak → strong | supervisor | loss | weak | student | ceiling | PGR, t over {seeds.Count} {units} | median PGR | agreement | misfit | Brier gain |");
        Line(output, "|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var p in result.Pairs.OrderBy(p => p.Variant).ThenBy(p => p.Weak, OrderOf(result.Rows.Select(r => r.Weak)))
                     .ThenBy(p => p.Strong, OrderOf(result.Rows.Select(r => r.Strong))).ThenBy(p => p.Loss, OrderOf(result.Rows.Select(r => r.Loss))))
            Line(output, $"| {p.Weak} → {p.Strong} | {(p.Variant == SupervisionVariant.Single ? "single" : "ensemble")} | {p.Loss} | {Pct(p.WeakAccuracy)} | {Pct(p.StudentAccuracy)} | {Pct(p.CeilingAccuracy)} | " +
                         $"{Interval(p.Pgr, "F2")}{(p.Excluded > 0 ? $" ({p.Excluded} excl.)" : "")} | {Fixed(p.MedianPgr, "F2")} | {Pct(p.Agreement)} | {Fixed(p.Misfit, "F4")} | {Fixed(p.BrierGain, "F4")} |");

        if (result.LossDifferences is { Count: > 0 } differences)
        {
            output.WriteLine();
            Line(output, $"| paired difference | supervisor | weak → strong | PGR | student accuracy (points) | misfit |");
            Line(output, "|---|---|---|---|---|---|");
            foreach (var d in differences)
                Line(output, $"| {d.Loss} − {d.Baseline} | {Variant(d.Variant)} | {(d.Weak == "all" ? "all pairs" : $"{d.Weak} → {d.Strong}")} | {Interval(d.Pgr, "+0.000;−0.000;0.000")} | {Points(d.StudentAccuracy)} | {Interval(d.Misfit, "+0.0000;−0.0000;0.0000")} |");
        }
        if (result.SizeEffects is { Count: > 0 } sizes)
        {
            output.WriteLine();
            Line(output, "| size effect | supervisor | loss | PGR | student accuracy (points) | ceiling accuracy (points) | agreement (points) | misfit |");
            Line(output, "|---|---|---|---|---|---|---|---|");
            foreach (var z in sizes)
                Line(output, $"| {z.Largest} − {z.Smallest} | {Variant(z.Variant)} | {z.Loss} | {Interval(z.Pgr, "+0.000;−0.000;0.000")} | {Points(z.StudentAccuracy)} | {Points(z.CeilingAccuracy)} | {Points(z.Agreement)} | {Interval(z.Misfit, "+0.0000;−0.0000;0.0000")} |");
        }
        if (result.MisfitSummaries is { Count: > 0 } misfits)
        {
            output.WriteLine();
            Line(output, "| misfit vs gain | supervisor | rows | mean misfit | mean gain | gain ≈ a·misfit + b | correlation | rows with gain ≥ misfit | gain − misfit |");
            Line(output, "|---|---|---|---|---|---|---|---|---|");
            foreach (var m in misfits)
                Line(output, $"| {m.Loss} | {Variant(m.Variant)} | {m.Rows} | {Fixed(m.Misfit, "F4")} | {Fixed(m.Gain, "F4")} | a = {Fixed(m.Slope, "F2")}, b = {Fixed(m.Intercept, "+0.0000;−0.0000;0.0000")} | {Fixed(m.Correlation, "F2")} | {m.GainAtLeastMisfit} / {m.Rows} | {Interval(m.GainMinusMisfit, "+0.0000;−0.0000;0.0000")} |");
        }
        if (result.EnsembleComparisons is { Count: > 0 } ensembles)
        {
            output.WriteLine();
            Line(output, "| ensemble − single | loss | supervisor accuracy (points) | student accuracy (points) | PGR on the single model's baseline − single PGR |");
            Line(output, "|---|---|---|---|---|");
            foreach (var c in ensembles)
                Line(output, $"| {c.Weak} → {c.Strong} | {c.Loss} | {Points(c.SupervisorAccuracy)} | {Points(c.StudentAccuracy)} | {Interval(c.PgrOnSingleBaseline, "+0.000;−0.000;0.000")} |");
        }
    }

    private static IEnumerable<(string Instance, TrunkDiagnostics Trunk)> Trunks(WeakToStrongResult result) =>
        result.Instances is { Count: > 0 } instances
            ? instances.SelectMany(i => i.Trunks.Select(t => (i.TaskSeed.ToString(CultureInfo.InvariantCulture), t)))
            : result.Trunks.Select(t => ("shared", t));

    private static string Scope(string weak, string strong) => weak == "all" ? "all pairs" : $"{weak} -> {strong}";

    private static string Variant(SupervisionVariant v) => v == SupervisionVariant.Single ? "single" : "ensemble";

    private static void Line(TextWriter output, FormattableString line) => output.WriteLine(line.ToString(CultureInfo.InvariantCulture));

    private static void Line(TextWriter output, string line) => output.WriteLine(line);

    private static IComparer<string> OrderOf(IEnumerable<string> order)
    {
        var index = order.Distinct().Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i);
        return Comparer<string>.Create((a, b) => index.GetValueOrDefault(a, int.MaxValue).CompareTo(index.GetValueOrDefault(b, int.MaxValue)));
    }

    private static string Pct(double value) => double.IsNaN(value) ? "–" : (100 * value).ToString("F1", CultureInfo.InvariantCulture) + "%";

    private static string Fixed(double value, string format) => double.IsNaN(value) ? "–" : value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary><c>mean [lower, upper]</c> with the format; the mean alone without an interval; a dash when absent.</summary>
    private static string Interval(SummaryStatistics? s, string format) =>
        s is null || double.IsNaN(s.Mean) ? "–"
        : double.IsNaN(s.Lower) ? Fixed(s.Mean, format) : $"{Fixed(s.Mean, format)} [{Fixed(s.Lower, format)}, {Fixed(s.Upper, format)}]";

    /// <summary>A difference of fractions in percentage points with its interval.</summary>
    private static string Points(SummaryStatistics? s) =>
        s is null ? "–" : Interval(s with { Mean = 100 * s.Mean, Lower = 100 * s.Lower, Upper = 100 * s.Upper }, "+0.0;−0.0;0.0");

    private static string Signed(SummaryStatistics? s, string format) =>
        s is null ? "-" : double.IsNaN(s.Lower) ? s.Mean.ToString(format) : $"{s.Mean.ToString(format)} [{s.Lower.ToString(format)}, {s.Upper.ToString(format)}]";

    private static string Ci(BootstrapInterval i) => i.Resamples == 0 ? "-" : $"[{i.Lower:F2}, {i.Upper:F2}]";
}
