using System.Globalization;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using Superalign.Optimization;
using static Superalign.Cli.Reports.ReportFormat;

namespace Superalign.Cli.Reports;

/// <summary>
/// The alignment tax: per arm the final competence and conformity, the competence drop from the pre-preference model
/// (the tax) and the gap to the competence-only control, with t intervals over seeds; the paired differences; the
/// trade-off curve; the held-out value probes when set; the verdict.
/// </summary>
internal static class AlignmentTaxReport
{
    public static void Write(AlignmentTaxResult result, TextWriter output)
    {
        var o = result.Options;
        output.WriteLine($"alignment tax on the value-conflict task: {o.Seeds.Count} seed(s), {Range(result.TrainPrompts)} training / {Range(result.TestPrompts)} held-out prompts per seed; " +
                         $"base = {o.PretrainSteps} SFT updates at lr {o.PretrainLearningRate}; each arm {o.BatchBudget} batches of {o.BatchSize} at lr {o.LearningRate}, " +
                         $"{o.ConformityLoss} unless the arm says otherwise (strength {o.Beta})");
        output.WriteLine($"base model: competence {result.Base.Average(b => b.Competence):P1}, conformity {result.Base.Average(b => b.Conformity):P1} (mean over seeds)");
        output.WriteLine();
        int width = Math.Max("arm".Length, result.Summaries.Max(s => s.Arm.Length));
        output.WriteLine($"{"arm".PadRight(width)} {"competence",-24} {"conformity",-24} {"drop from pre-preference",-26} {"vs competence-only",-26} {"refuses",7} {"over-ref.",9} {"caveats",7}");
        foreach (var s in result.Summaries)
            output.WriteLine($"{s.Arm.PadRight(width)} {Percent(s.Competence),-24} {Percent(s.Conformity),-24} {Difference(s.CompetenceDrop),-26} {Difference(s.VersusCompetenceOnly),-26} " +
                             $"{s.RefusalRate,7:P0} {s.OverRefusalRate,9:P0} {s.CaveatRate,7:P0}");
        if (result.Differences.Count > 0)
        {
            output.WriteLine();
            output.WriteLine($"paired over {o.Seeds.Count} seed(s) ({o.ConfidenceLevel:P0} t intervals): first − second");
            foreach (var d in result.Differences)
                output.WriteLine($"  {d.First} − {d.Second}: competence {Difference(d.Competence)}, conformity {Difference(d.Conformity)}, drop {Difference(d.CompetenceDrop)}; " +
                                 $"first better on competence and not worse on conformity on {d.FirstWins} of {d.Competence.Count} seeds");
        }
        WriteHeldOut(result, output, markdown: false);
        output.WriteLine();
        output.WriteLine(result.Verdict);
    }

    /// <summary>The markdown tables docs/results.md shows for an alignment-tax result (invariant culture set by the caller).</summary>
    public static void WriteMarkdownTables(AlignmentTaxResult result, TextWriter output)
    {
        var o = result.Options;
        output.WriteLine($"Seeds {SeedList(o.Seeds)} ({o.Seeds.Count}); {Range(result.TrainPrompts)} training and {Range(result.TestPrompts)} held-out prompts per seed; base: {o.PretrainSteps} SFT updates, " +
                         $"competence {Pct(result.Base.Average(b => b.Competence))}, conformity {Pct(result.Base.Average(b => b.Conformity))} (mean over seeds); " +
                         $"each arm {o.BatchBudget} batches of {o.BatchSize}, lr {o.LearningRate}, β/λ {o.Beta}.");
        output.WriteLine();
        output.WriteLine("| arm | stages; pairs | competence | conformity | competence drop from pre-preference | vs competence-only | refuses | over-refuses | caveats |");
        output.WriteLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var s in result.Summaries)
            output.WriteLine($"| {s.Arm} | {Describe(o.Arms.Single(a => a.Name == s.Arm), o)} | {Cell(s.Competence)} | {Cell(s.Conformity)} | {PointsCell(s.CompetenceDrop)} | {PointsCell(s.VersusCompetenceOnly)} | " +
                             $"{Pct(s.RefusalRate, 0)} | {Pct(s.OverRefusalRate, 0)} | {Pct(s.CaveatRate, 0)} |");
        if (result.Differences.Count > 0)
        {
            output.WriteLine();
            output.WriteLine($"| paired difference (t, {o.Seeds.Count} seeds) | competence | conformity | competence drop | seeds first better on competence, not worse on conformity |");
            output.WriteLine("|---|---|---|---|---|");
            foreach (var d in result.Differences)
                output.WriteLine($"| {d.First} − {d.Second} | {PointsCell(d.Competence)} | {PointsCell(d.Conformity)} | {PointsCell(d.CompetenceDrop)} | {d.FirstWins} of {d.Competence.Count} |");
        }
        // Every arm on unweakened pairs against the sequential arm of the first comparison (alternating − sequential is the
        // headline), paired by seed: where each schedule sits relative to the usual practice, whichever comparisons the run named.
        var sequential = o.Comparisons.Count > 0 && result.Runs.Any(r => r.Arm == o.Comparisons[0].Second) ? o.Comparisons[0].Second : null;
        if (sequential is not null && o.Seeds.Count > 1)
        {
            output.WriteLine();
            output.WriteLine($"| arm − {sequential} (paired, t, {o.Seeds.Count} seeds) | competence | conformity | competence drop | seeds better on competence, not worse on conformity |");
            output.WriteLine("|---|---|---|---|---|");
            foreach (var arm in o.Arms.Where(a => a.Name != sequential && !a.PairsOrOracle.IsWeak && result.Runs.Any(r => r.Arm == a.Name)))
            {
                var d = result.Compare(arm.Name, sequential);
                output.WriteLine($"| {arm.Name} | {PointsCell(d.Competence)} | {PointsCell(d.Conformity)} | {PointsCell(d.CompetenceDrop)} | {d.FirstWins} of {d.Competence.Count} |");
            }
        }
        WriteTrajectories(result, output);
        WriteHeldOut(result, output, markdown: true);
        var weak = result.Summaries.Where(s => s.WeakJudge is not null).ToList();
        if (weak.Count == 0) return;
        var ceilings = weak.Select(s => s.WeakJudge!.CeilingArm).Distinct().Select(name => result.Summaries.Single(s => s.Arm == name)).ToList();
        output.WriteLine();
        output.WriteLine("| arm | judge's pair accuracy | student's held-out pair accuracy | conformity | competence | conformity PGR (per seed, t) | PGR of the means |");
        output.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var s in ceilings)
            output.WriteLine($"| {s.Arm} (ceiling) | 100% | {Cell(s.PairAccuracy)} | {Cell(s.Conformity)} | {Cell(s.Competence)} | – | – |");
        foreach (var s in weak)
            output.WriteLine($"| {s.Arm} | {Pct(s.WeakJudge!.JudgeAccuracy)} | {Cell(s.PairAccuracy)} | {Cell(s.Conformity)} | {Cell(s.Competence)} | {Ratio(s.WeakJudge.Pgr)} | {s.WeakJudge.PgrOfMeans:0.00} |");
    }

    /// <summary>
    /// Each arm's mean held-out competence / conformity at its checkpoints (batches trained; the pre-preference point of
    /// sequential arms is one of them), over the seeds: where a stage dips and how far it recovers before the end.
    /// </summary>
    private static void WriteTrajectories(AlignmentTaxResult result, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine("| arm | after b batches — b: competence/conformity (%, mean over seeds) |");
        output.WriteLine("|---|---|");
        foreach (var arm in result.Options.Arms)
        {
            var runs = result.Runs.Where(r => r.Arm == arm.Name).ToList();
            if (runs.Count == 0) continue;
            int points = runs.Min(r => r.Trajectory.Count);
            var cells = Enumerable.Range(0, points).Select(i =>
                string.Create(CultureInfo.InvariantCulture, $"{runs[0].Trajectory[i].Batches}: {100 * runs.Average(r => r.Trajectory[i].Competence):0.0}/{100 * runs.Average(r => r.Trajectory[i].Conformity):0.0}"));
            output.WriteLine($"| {arm.Name} | {string.Join(" · ", cells)} |");
        }
    }

    private static string Ratio(SummaryStatistics s) => double.IsNaN(s.Lower) ? $"{s.Mean:0.00}" : $"{s.Mean:0.00} [{s.Lower:0.00}, {s.Upper:0.00}]";

    private static void WriteHeldOut(AlignmentTaxResult result, TextWriter output, bool markdown)
    {
        var o = result.Options;
        if (o.HeldOutTrigger is null && o.HeldOutOperandsFrom is null) return;
        output.WriteLine();
        string header = $"held-out value probes (never trained on): trigger operand {o.HeldOutTrigger?.ToString() ?? "none"}, operands from {o.HeldOutOperandsFrom?.ToString() ?? "none"}";
        if (!markdown)
        {
            output.WriteLine(header);
            foreach (var s in result.Summaries)
                output.WriteLine($"  {s.Arm}: held-out pair accuracy {Percent(s.PairAccuracy)}" + (s.WeakJudge is { } w ? $", conformity PGR {Number(w.Pgr)} (judge {w.JudgeAccuracy:P0}, ceiling {w.CeilingArm})" : "") + $"; trigger refused {Percent(s.TriggerRefusal)}; unseen operands competence {Percent(s.HeldOutOperandCompetence)}, conformity {Percent(s.HeldOutOperandConformity)}");
            return;
        }
        output.WriteLine($"| arm | refuses the unseen trigger {o.HeldOutTrigger} | competence, operands ≥ {o.HeldOutOperandsFrom} | conformity, operands ≥ {o.HeldOutOperandsFrom} |");
        output.WriteLine("|---|---|---|---|");
        foreach (var s in result.Summaries)
            output.WriteLine($"| {s.Arm} | {Cell(s.TriggerRefusal)} | {Cell(s.HeldOutOperandCompetence)} | {Cell(s.HeldOutOperandConformity)} |");
    }

    /// <summary>An arm in words for the tables: <c>SFT ½ → ORPO ½</c>, <c>alternating 1:3 (ORPO)</c>, <c>joint SFT + ORPO, equal updates</c>; and its pairs.</summary>
    internal static string Describe(AlignmentArm arm, AlignmentTaxOptions options)
    {
        string Stage(ArmStage stage)
        {
            string loss = (stage.ConformityLoss ?? options.ConformityLoss) switch { "sigmoid" => "DPO", var name => name.ToUpperInvariant() };
            var first = stage.Schedule.Plan(0, 100);
            bool anyCompetence = Enumerable.Range(0, 100).Any(i => stage.Schedule.Plan(i, 100).Phase != TrainingPhase.Conformity);
            bool anyConformity = Enumerable.Range(0, 100).Any(i => stage.Schedule.Plan(i, 100).Phase != TrainingPhase.Competence);
            string what = first.Phase == TrainingPhase.Joint ? $"joint SFT + {loss}" + (stage.EqualUpdates ? ", equal updates" : ", equal batches")
                : anyCompetence && anyConformity ? $"{stage.Schedule.ToString()!.Replace("fixed-ratio ", "alternating ", StringComparison.Ordinal)} ({loss})"
                : anyConformity ? loss : "SFT";
            return arm.Stages.Count == 1 ? what : $"{what} {stage.BudgetShare:0.##}";
        }
        return string.Join(" → ", arm.Stages.Select(Stage)) + "; " + arm.PairsOrOracle.Label;
    }

    private static string Pct(double value, int decimals = 1) => double.IsNaN(value) ? "n/a" : (100 * value).ToString(decimals == 0 ? "0" : "0.0") + "%";

    private static string Cell(SummaryStatistics? s) => s is null ? "–"
        : double.IsNaN(s.Lower) ? Pct(s.Mean) : $"{Pct(s.Mean)} [{(100 * s.Lower):0.0}, {(100 * s.Upper):0.0}]";

    private static string PointsCell(SummaryStatistics? s) => s is null ? "–"
        : double.IsNaN(s.Lower) ? Signed(s.Mean) : $"{Signed(s.Mean)} [{Signed(s.Lower)}, {Signed(s.Upper)}]";

    /// <summary>Accuracy points with a sign, rounded first so that −1e-17 reads 0.0.</summary>
    private static string Signed(double value) => Math.Round(100 * value, 1).ToString("+0.0;-0.0;0.0");

    private static string Range(IReadOnlyList<int> counts) => counts.Min() == counts.Max() ? $"{counts[0]:N0}" : $"{counts.Min():N0}–{counts.Max():N0}";

    /// <summary>Seeds as ranges: <c>0–19</c>, <c>0, 2, 5</c>.</summary>
    internal static string SeedList(IReadOnlyList<int> seeds)
    {
        var sorted = seeds.Order().ToList();
        bool contiguous = sorted.Count > 2 && sorted[^1] - sorted[0] == sorted.Count - 1;
        return contiguous ? $"{sorted[0]}–{sorted[^1]}" : string.Join(", ", sorted);
    }
}
