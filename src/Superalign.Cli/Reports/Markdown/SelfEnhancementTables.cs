using System.Globalization;
using Superalign.Experiments.Protocols;
using static Superalign.Cli.Reports.Markdown.MarkdownFormat;

namespace Superalign.Cli.Reports.Markdown;

/// <summary>
/// Self-enhancement in docs/results.md: held-out competence and conformity, the judge's agreement with the exact
/// checkers and the diversity, per judge and round (t intervals over seeds). Round 0 (the SFT policy every judge starts
/// from) is one row when it is the same for every judge.
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
    }

    private static IReadOnlyList<string> Row(string judge, RoundSummary s) =>
    [
        judge, s.Round.ToString(CultureInfo.InvariantCulture), PercentWithInterval(s.Competence), PercentWithInterval(s.Conformity),
        s.Round == 0 ? "–" : PercentWithInterval(s.JudgeAgreement), Number(s.Diversity.Mean, 2),
    ];
}
