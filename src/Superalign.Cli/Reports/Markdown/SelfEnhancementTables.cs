using System.Globalization;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using static Superalign.Cli.Reports.Markdown.MarkdownFormat;

namespace Superalign.Cli.Reports.Markdown;

/// <summary>
/// Self-enhancement in docs/results.md: held-out competence and conformity, the judge's agreement with the exact
/// checkers and the diversity, per judge and round (t intervals over seeds). Round 0 (the SFT policy every judge starts
/// from) is one row when it is the same for every judge. Then, per judge, the change from the SFT policy to the last
/// round, paired by seed, with the seeds where conformity rose; and the verifier's rank accuracy when it is a judge.
/// </summary>
internal static class SelfEnhancementTables
{
    public static void Write(SelfEnhancementResult result, TextWriter output)
    {
        var rounds = result.Summaries;
        var zero = rounds.Where(s => s.Round == 0).ToList();
        bool shared = zero.Count > 0 && zero.All(s => s.Competence.Mean == zero[0].Competence.Mean && s.Conformity.Mean == zero[0].Conformity.Mean);
        var rows = new List<IReadOnlyList<string>>();
        if (shared) rows.Add(Row("(SFT policy)", zero[0]));
        foreach (var s in rounds.Where(s => !(shared && s.Round == 0)))
            rows.Add(Row(s.Judge.ToString().ToLowerInvariant(), s));
        Table(output, ["judge", "round", "competence", "conformity", "judge agreement with the checkers", "diversity"], rows);

        if (result.Options.Seeds.Count < 2) return;
        int last = result.Options.Rounds;
        double level = result.Options.ConfidenceLevel;
        output.WriteLine();
        var changes = new List<IReadOnlyList<string>>();
        foreach (var judge in result.Options.Judges)
        {
            var runs = result.Runs.Where(r => r.Judge == judge).OrderBy(r => r.Seed).ToList();
            var competence = runs.Select(r => r.Rounds[last].Scores.Competence - r.Rounds[0].Scores.Competence).ToList();
            var conformity = runs.Select(r => r.Rounds[last].Scores.Conformity - r.Rounds[0].Scores.Conformity).ToList();
            changes.Add([judge.ToString().ToLowerInvariant(), Points(MeanSummary.Of(competence, level)), Points(MeanSummary.Of(conformity, level)),
                $"{conformity.Count(d => d > 0)} of {conformity.Count}"]);
        }
        Table(output, ["judge", $"competence, round {last} − SFT policy (points)", $"conformity, round {last} − SFT policy (points)", "seeds with conformity up"], changes);

        var accuracy = result.Runs.Where(r => r.Judge == FeedbackJudge.Verifier && r.VerifierAccuracy is not null).Select(r => r.VerifierAccuracy!.Value).ToList();
        if (accuracy.Count > 1)
        {
            output.WriteLine();
            Table(output, ["verifier", "labelled responses per seed", "checkers' rank predicted exactly (SFT policy's held-out responses)"],
                [["classifier", Count((result.Options.Verifier ?? new()).Labels), PercentWithInterval(MeanSummary.Of(accuracy, level))]]);
        }
    }

    private static IReadOnlyList<string> Row(string judge, RoundSummary s) =>
    [
        judge, s.Round.ToString(CultureInfo.InvariantCulture), PercentWithInterval(s.Competence), PercentWithInterval(s.Conformity),
        s.Round == 0 ? "–" : PercentWithInterval(s.JudgeAgreement), Number(s.Diversity.Mean, 2),
    ];
}
