using Superalign.Experiments.Protocols;
using static Superalign.Cli.Reports.Markdown.MarkdownFormat;

namespace Superalign.Cli.Reports.Markdown;

/// <summary>
/// Gap annealing in docs/results.md: the weak model, the direct students, the chained student and the ceiling (test
/// accuracy, PGR, weak errors copied; t intervals over seeds), then the paired comparison and the chain's decisions.
/// </summary>
internal static class GapAnnealingTables
{
    public static void Write(GapAnnealingResult result, TextWriter output)
    {
        var m = result.Summary;
        var first = result.PerSeed[0];
        string weak = first.Weak, target = first.Target;
        Table(output, ["", "test accuracy", $"PGR (w.r.t. the weak {weak} and the {target} ceiling)", "weak errors copied"],
        [
            [$"weak {weak}", PercentWithInterval(m.Weak), "–", "–"],
            [$"direct weak → {target}, same budget ({Count(first.DirectSteps)} updates)", PercentWithInterval(m.Direct), Ratio(m.DirectPgr), PercentWithInterval(m.DirectCopiedFraction)],
            [$"direct, one round ({Count(result.Options.StepsPerRound)} updates)", PercentWithInterval(m.DirectOneRound), "", ""],
            ["**chained (gap annealing)**", PercentWithInterval(m.Chained), Ratio(m.ChainedPgr), PercentWithInterval(m.ChainedCopiedFraction)],
            [$"ceiling {target} (ground truth)", PercentWithInterval(m.Ceiling), "1", ""],
        ]);
        output.WriteLine();
        int seeds = result.PerSeed.Count;
        var rejected = result.PerSeed.SelectMany(s => s.Rounds).Where(r => !r.Decision.Accepted).ToList();
        Table(output, [$"paired over {seeds} seeds", ""],
        [
            ["chained − direct, points (95% t)", Points(m.ChainedMinusDirect)],
            ["seeds where chained beats direct", $"{m.SeedsChainedBetter} of {seeds}"],
            ["seeds whose paired bootstrap interval (test examples) is above 0", $"{result.PerSeed.Count(s => s.ChainedMinusDirect.Lower > 0)} of {seeds}"],
            ["rounds accepted / rejected", $"{m.Accepted} / {m.Rejected}"],
            ["rejected rounds whose student beat its supervisor on the test set", $"{rejected.Count(r => r.StudentTestAccuracy > r.SupervisorTestAccuracy)} of {rejected.Count}"],
        ]);
    }
}
