using Superalign.Experiments.Protocols;
using static Superalign.Cli.Reports.Markdown.MarkdownFormat;

namespace Superalign.Cli.Reports.Markdown;

/// <summary>
/// Sandwiching in docs/results.md: the judge's accuracy per condition (t interval over seeds), the paired bootstrap
/// differences over the pooled test examples, and each seed's conditions and consultants.
/// </summary>
internal static class SandwichingTables
{
    public static void Write(SandwichingResult result, TextWriter output)
    {
        int seeds = result.Seeds.Count;
        Table(output, ["condition", $"accuracy, mean over {seeds} seed{(seeds == 1 ? "" : "s")}", "95% t interval"],
        [
            Row($"judge alone (k = {result.Options.Reveals} random features)", result.NoHelp),
            Row("judge + one consultant", result.Consultancy),
            Row("judge + debate", result.Debate),
            Row("expert (all features)", result.Expert),
        ]);
        output.WriteLine();
        Table(output, ["paired difference", "points", $"95% paired bootstrap over {Count(result.PooledTestExamples)} pooled test examples"],
        [
            ["debate − no help", Signed(100 * result.DebateMinusNoHelp.Estimate, 1), SignedInterval(result.DebateMinusNoHelp.Lower, result.DebateMinusNoHelp.Upper)],
            ["debate − consultancy", Signed(100 * result.DebateMinusConsultancy.Estimate, 1), SignedInterval(result.DebateMinusConsultancy.Lower, result.DebateMinusConsultancy.Upper)],
        ]);
        output.WriteLine();
        Table(output, ["seed", "judge alone", "+ consultant", "+ debate", "expert", "honest consultant", "dishonest consultant", "debate sides with the expert"],
            result.SeedResults.Select(r => (IReadOnlyList<string>)
            [
                r.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture), Percent(r.NoHelpAccuracy), Percent(r.ConsultancyAccuracy), Percent(r.DebateAccuracy),
                Percent(r.ExpertAccuracy), Percent(r.HonestConsultantAccuracy), Percent(r.DishonestConsultantAccuracy), Percent(r.DebateAgreesWithExpert),
            ]));
    }

    private static IReadOnlyList<string> Row(string condition, Superalign.Experiments.Metrics.SummaryStatistics s) =>
        [condition, Percent(s.Mean), Interval(s.Lower, s.Upper)];
}
