using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using static Superalign.Cli.Reports.ReportFormat;

namespace Superalign.Cli.Reports;

/// <summary>
/// Co-optimization: held-out competence and conformity per schedule with intervals over seeds, the searches' wins and
/// costs, the paired differences to alternation, the verdict, the Pareto front and the hypervolume per schedule.
/// </summary>
internal static class CoOptimizationReport
{
    public static void Write(CoOptimizationResult result, TextWriter output)
    {
        var options = result.Options;
        output.WriteLine($"co-optimization on the value-conflict task: seeds {string.Join(",", options.Seeds)}, {result.TrainPrompts} training / {result.TestPrompts} held-out prompts per seed, " +
                         $"budget {options.BatchBudget} batches of {options.BatchSize}, base = {options.PretrainSteps} SFT updates, {options.ConformityLoss} (strength {options.Beta})" +
                         (options.ProbePrompts > 0 ? $", {options.ProbePrompts} training prompts held out as search probes" : ""));
        output.WriteLine($"base model: competence {result.Base.Average(b => b.Competence):P1}, conformity {result.Base.Average(b => b.Conformity):P1} (mean over seeds)");
        output.WriteLine();
        int nameWidth = Math.Max("schedule".Length, result.Summaries.Max(s => s.Schedule.Length));
        output.WriteLine($"{"schedule".PadRight(nameWidth)} {"competence (95% CI)",-24} {"conformity (95% CI)",-24} {"retention",9} {"Pareto",6} {"refuses",8} {"over-refuses",12} {"caveats",8}");
        foreach (var s in result.Summaries)
        {
            var runs = result.Runs.Where(r => r.Schedule == s.Schedule).ToList();
            output.WriteLine($"{s.Schedule.PadRight(nameWidth)} {Percent(s.Competence),-24} {Percent(s.Conformity),-24} {(double.IsNaN(s.CompetenceRetention) ? "n/a" : s.CompetenceRetention.ToString("P0")),9} {(s.OnParetoFront ? "yes" : ""),6} " +
                             $"{runs.Average(r => r.Scores.RefusalRate),8:P0} {runs.Average(r => r.Scores.OverRefusalRate),12:P0} {runs.Average(r => r.Scores.CaveatRate),8:P0}");
        }
        foreach (var s in result.Summaries.Where(s => s.Search is not null))
        {
            var search = s.Search!;
            output.WriteLine($"{s.Schedule}: {search.Searches} searches over {options.Seeds.Count} seeds; wins " +
                             string.Join(", ", search.Wins.Select(w => $"{w.Key} {w.Value}")) +
                             $"; Pareto improvements {(double)search.ParetoImprovements / search.Searches:P0}; a search step costs {search.SearchStepCostRatio:F1}× a plain step; " +
                             $"training {s.MeanSeconds:F1} s per seed against {result.Summaries.FirstOrDefault(x => x.Schedule == "alternating")?.MeanSeconds ?? double.NaN:F1} s for alternating");
        }
        if (result.VersusAlternating is { Count: > 0 } paired && options.Seeds.Count > 1)
        {
            output.WriteLine();
            output.WriteLine($"paired over {options.Seeds.Count} seeds, schedule − alternating (95% t intervals):");
            foreach (var p in paired)
                output.WriteLine($"  {p.First.PadRight(nameWidth)} competence {Points(p.CompetenceDifference),-26} conformity {Points(p.ConformityDifference)}");
        }
        output.WriteLine();
        output.WriteLine(result.Verdict);
        output.WriteLine($"Pareto front of the {result.Pareto.Finals.Count} runs' final points: {string.Join(", ", result.Pareto.Front.Select(p => p.Run))}; hypervolume {result.Pareto.Hypervolume:F3}");
        output.WriteLine("hypervolume (competence × conformity) per schedule: " + string.Join(", ", result.HypervolumeBySchedule.Select(kv => $"{kv.Key} {Hypervolume(kv.Value)}")));
    }

    private static string Hypervolume(SummaryStatistics s) => double.IsNaN(s.Lower) ? $"{s.Mean:F3}" : $"{s.Mean:F3} [{s.Lower:F3}, {s.Upper:F3}]";

    private static string Points(SummaryStatistics d) => $"{100 * d.Mean:+0.0;-0.0} [{100 * d.Lower:+0.0;-0.0}, {100 * d.Upper:+0.0;-0.0}] pts";
}
