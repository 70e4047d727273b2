using Superalign.Experiments.Protocols;

namespace Superalign.Cli.Reports;

/// <summary>Sandwiching: the judge's accuracy per condition with intervals over seeds, the paired differences, and each seed's consultants.</summary>
internal static class SandwichingReport
{
    public static void Write(SandwichingResult result, TextWriter output)
    {
        var options = result.Options;
        var t = options.Task;
        output.WriteLine($"sandwiching: {options.Seeds.Count} seed(s); task {t.Features} features, {t.Classes} classes, {t.EvidencePerExample} evidence features per example; " +
                         $"judge sees k = {options.Reveals}; {options.TrainSize} training and {options.TestSize} test examples per seed");
        output.WriteLine();
        output.WriteLine($"{"condition",-24} {"mean accuracy",13}  {"95% CI (t, over seeds)",-24} {"seeds",5} {"test examples",13}");
        foreach (var (condition, s) in result.Conditions())
            output.WriteLine($"{condition,-24} {s.Mean,13:P1}  {Interval(s.Lower, s.Upper),-24} {s.Count,5} {result.TestExamples * s.Count,13}");
        output.WriteLine();
        output.WriteLine($"debate − no help:     {result.DebateMinusNoHelp.Estimate,7:+0.0%;-0.0%}  95% paired bootstrap {Interval(result.DebateMinusNoHelp.Lower, result.DebateMinusNoHelp.Upper)} over {result.PooledTestExamples} pooled test examples");
        output.WriteLine($"debate − consultancy: {result.DebateMinusConsultancy.Estimate,7:+0.0%;-0.0%}  95% paired bootstrap {Interval(result.DebateMinusConsultancy.Lower, result.DebateMinusConsultancy.Upper)}");
        foreach (var r in result.SeedResults)
            output.WriteLine($"  seed {r.Seed}: consultant honest → {r.HonestConsultantAccuracy:P1}, dishonest → {r.DishonestConsultantAccuracy:P1}; judge sided with the expert's answer in {r.DebateAgreesWithExpert:P1} of debates ({r.WallSeconds:F1} s)");
    }

    /// <summary>An interval's bounds, or a note that one seed has none.</summary>
    internal static string Interval(double lower, double upper) => double.IsNaN(lower) ? "n/a (one seed)" : $"[{lower:P1}, {upper:P1}]";
}
