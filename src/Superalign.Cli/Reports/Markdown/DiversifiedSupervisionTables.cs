using System.Globalization;
using Superalign.Experiments.Protocols;
using static Superalign.Cli.Reports.Markdown.MarkdownFormat;

namespace Superalign.Cli.Reports.Markdown;

/// <summary>
/// Diversified supervision in docs/results.md: each student's accuracy, its paired difference to the student of the
/// first member alone, and the share of each member's errors it copies (in brackets, the paired difference to that
/// member's own student); then the supervisors per seed.
/// </summary>
internal static class DiversifiedSupervisionTables
{
    public static void Write(DiversifiedSupervisionResult result, TextWriter output)
    {
        var members = result.Options.Members.Select(t => t.Name).ToList();
        Table(output,
            ["student trained on", "accuracy", $"Δ vs the {members[0]} student", .. members.Select(m => $"copies {m}'s errors (Δ vs its own student)")],
            result.Variants.Select(v => (IReadOnlyList<string>)
            [
                Name(v), PercentWithInterval(v.StudentAccuracy), Points(v.AccuracyVsSingle),
                .. members.Select(name => v.Members.FirstOrDefault(c => c.Member == name) is { } c
                    ? (c.CopiedFraction is null ? "–" : Percent(c.CopiedFraction.Mean)) + (c.VersusOwnStudent is { } d ? $" ({Signed(100 * d.Mean, 1)})" : "")
                    : "–"),
            ]));
        output.WriteLine();
        Table(output, ["seed", .. members, "ensemble (mean labels)", "members' argmax split", "unanimous on B", "ceiling"],
            result.PerSeed.Select(s => (IReadOnlyList<string>)
            [
                s.Seed.ToString(CultureInfo.InvariantCulture), .. s.MemberAccuracies.Select(Percent), Percent(s.EnsembleAccuracy),
                Percent(s.Disagreement.ArgmaxDisagreement), Percent(s.UnanimousFraction), Percent(s.CeilingAccuracy),
            ]));
    }

    private static string Name(DiversityVariantSummary v) => v.Variant switch
    {
        DiversityVariant.Single => $"{v.Supervisor} alone",
        DiversityVariant.Ensemble => "ensemble (mean)",
        DiversityVariant.AgreementWeighted => "agreement-weighted ensemble",
        DiversityVariant.Curriculum or DiversityVariant.EnsembleCurriculum => $"easy-to-hard curriculum ({v.Supervisor})",
        _ => $"{v.Variant} ({v.Supervisor})",
    };
}
