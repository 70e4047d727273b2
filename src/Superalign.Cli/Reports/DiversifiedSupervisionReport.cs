using Superalign.Experiments.Protocols;
using static Superalign.Cli.Reports.ReportFormat;

namespace Superalign.Cli.Reports;

/// <summary>
/// Diversified supervision: the supervisors per seed, the students per variant (accuracy, PGR, difference to the
/// single weak supervisor's student) and the share of each member's errors each student copies.
/// </summary>
internal static class DiversifiedSupervisionReport
{
    public static void Write(DiversifiedSupervisionResult diversity, TextWriter output)
    {
        var options = diversity.Options;
        output.WriteLine($"diversified supervision: members {string.Join(", ", options.Members.Select(t => t.Name))} (each trained on A with ground truth), " +
                         $"student {options.Student.Name}; {options.Steps} updates, loss {options.CompetenceLoss}; curriculum {options.CurriculumStages} stages, {options.CurriculumPacing}; seeds {string.Join(",", options.Seeds)}");
        output.WriteLine();
        output.WriteLine("   supervisors per seed (test accuracy; members' argmax split; agreement weights on B)");
        foreach (var s in diversity.PerSeed)
            output.WriteLine($"   seed {s.Seed}: {string.Join(", ", options.Members.Select((t, i) => $"{t.Name} {s.MemberAccuracies[i]:P1}"))}; ensemble mean {s.EnsembleAccuracy:P1}; " +
                             $"split on {s.Disagreement.ArgmaxDisagreement:P1}; mean weight {s.MeanAgreementWeight:F3}, unanimous {s.UnanimousFraction:P1}; ceiling {s.CeilingAccuracy:P1}");
        output.WriteLine();
        output.WriteLine($"   students (mean over {options.Seeds.Count} seeds [95% t]); PGR w.r.t. {options.Members[0].Name} and the ceiling; Δ = paired difference to the student of {options.Members[0].Name} alone");
        output.WriteLine($"   {"variant",-19} {"supervisor",-10} {"sup acc",7} {"student accuracy",-24} {"PGR",-20} {"Δ accuracy",-24}");
        foreach (var v in diversity.Variants)
            output.WriteLine($"   {Name(v.Variant),-19} {v.Supervisor,-10} {v.SupervisorAccuracy.Mean,7:P1} {Percent(v.StudentAccuracy),-24} {Number(v.Pgr),-20} {Difference(v.AccuracyVsSingle),-24}");
        output.WriteLine();
        output.WriteLine("   share of each member's test errors the student copies (same wrong class), mean [95% t]; in brackets after it, the paired difference");
        output.WriteLine("   to the student trained on that member alone (negative = copies fewer of that member's errors than its own student)");
        output.WriteLine($"   {"variant",-19} {"supervisor",-10} " + string.Join(" ", options.Members.Select(t => $"{t.Name,-47}")));
        foreach (var v in diversity.Variants)
            output.WriteLine($"   {Name(v.Variant),-19} {v.Supervisor,-10} " + string.Join(" ", v.Members.Select(c =>
                $"{$"{Percent(c.CopiedFraction)} {(c.VersusOwnStudent is { } d ? $"({d.Mean:+0.0%;-0.0%;0.0%} [{d.Lower:+0.0%;-0.0%;0.0%}, {d.Upper:+0.0%;-0.0%;0.0%}])" : "(own student)")}",-47}")));
        output.WriteLine($"   {"ceiling",-19} {"truth",-10} " + string.Join(" ", diversity.CeilingCopies.Select(c => $"{$"{Percent(c.CopiedFraction)} (coincidence floor)",-47}")));
    }

    /// <summary>A variant's name in the tables.</summary>
    internal static string Name(DiversityVariant v) => v switch
    {
        DiversityVariant.Single => "single",
        DiversityVariant.Ensemble => "ensemble (mean)",
        DiversityVariant.AgreementWeighted => "agreement-weighted",
        DiversityVariant.Curriculum => "curriculum",
        _ => "ensemble+curriculum",
    };
}
