using System.Globalization;
using Superalign.Cli.Reports;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using Superalign.Tests.Experiments;
using Xunit;

namespace Superalign.Tests.Cli;

/// <summary>
/// Each protocol's report on a small real result (the resume tests' tiny options) holds the rows of its tables with the
/// values of the result, formatted in the invariant culture whatever the current culture.
/// </summary>
public sealed class ProtocolReportsTests
{
    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Percent(SummaryStatistics s) =>
        double.IsNaN(s.Lower) ? Inv($"{s.Mean:P1}") : Inv($"{s.Mean:P1} [{s.Lower:P1}, {s.Upper:P1}]");

    /// <summary>The report of a tiny run of <paramref name="name"/>, written under a culture with decimal commas.</summary>
    private static (IProtocolResult Result, string Report) Report(string name)
    {
        var result = ProtocolCatalog.Find(name).Create(ResumeTestKit.TinyOptions(name)).Run();
        var output = new StringWriter();
        var culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
        try
        {
            Assert.True(ProtocolReports.Write(result, output));
            Assert.Equal("de-DE", CultureInfo.CurrentCulture.Name);
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
        return (result, output.ToString());
    }

    private static void HasLineStartingWith(string report, string start) =>
        Assert.True(report.Split('\n').Any(l => l.StartsWith(start, StringComparison.Ordinal)), $"no line starts with '{start}' in:\n{report}");

    [Fact]
    public void Sandwiching_report_has_each_condition_with_its_mean_and_the_paired_differences()
    {
        var (r, report) = Report(Sandwiching.ProtocolName);
        var result = (SandwichingResult)r;
        foreach (var (condition, s) in result.Conditions())
            HasLineStartingWith(report, Inv($"{condition,-24} {s.Mean,13:P1}  "));
        Assert.Contains(Inv($"debate − no help:     {result.DebateMinusNoHelp.Estimate,7:+0.0%;-0.0%}"), report);
        foreach (var seed in result.SeedResults)
            Assert.Contains(Inv($"  seed {seed.Seed}: consultant honest → {seed.HonestConsultantAccuracy:P1}"), report);
    }

    [Fact]
    public void Co_optimization_report_has_each_schedule_with_its_intervals_and_the_verdict()
    {
        var (r, report) = Report(CoOptimizationComparison.ProtocolName);
        var result = (CoOptimizationResult)r;
        int width = Math.Max("schedule".Length, result.Summaries.Max(s => s.Schedule.Length));
        foreach (var s in result.Summaries)
            HasLineStartingWith(report, $"{s.Schedule.PadRight(width)} {Percent(s.Competence),-24} {Percent(s.Conformity),-24} ");
        Assert.Contains(result.Verdict, report);
        Assert.Contains(Inv($"hypervolume {result.Pareto.Hypervolume:F3}"), report);
    }

    [Fact]
    public void Self_enhancement_report_has_each_judge_and_round()
    {
        var (r, report) = Report(SelfEnhancement.ProtocolName);
        var result = (SelfEnhancementResult)r;
        Assert.NotEmpty(result.Summaries);
        foreach (var s in result.Summaries)
            HasLineStartingWith(report, Inv($"{s.Judge,-8} {s.Round,5} {Percent(s.Competence),-24} {Percent(s.Conformity),-24} "));
        var accuracy = result.Runs.Where(x => x.Judge == FeedbackJudge.Verifier).Select(x => x.VerifierAccuracy!.Value).Average();
        Assert.Contains(Inv($"rank accuracy on the SFT policy's held-out responses {accuracy:P1} (mean over 2 seeds)"), report);
    }

    [Fact]
    public void Weak_to_strong_report_has_each_row_and_the_median_pgr()
    {
        var (r, report) = Report(WeakToStrong.ProtocolName);
        var result = (WeakToStrongResult)r;
        foreach (var row in result.Rows)
            HasLineStartingWith(report, Inv($"  {row.Seed,4} {row.WeakAccuracy,6:P1} {row.StudentAccuracy,7:P1} {row.CeilingAccuracy,7:P1} "));
        foreach (var v in result.Variants)
            Assert.Contains(Inv($"median PGR ({v.Variant}, {v.Loss}, over {v.Included} (weak, strong, seed) rows"), report);
        foreach (var pair in result.Pairs)
            HasLineStartingWith(report, $"{pair.Weak} -> {pair.Strong}");
    }

    [Fact]
    public void Gap_annealing_report_has_each_seed_and_the_summary()
    {
        var (r, report) = Report(GapAnnealing.ProtocolName);
        var result = (GapAnnealingResult)r;
        foreach (var seed in result.PerSeed)
            HasLineStartingWith(report, Inv($"   {seed.Seed,4} {seed.WeakTestAccuracy,6:P1} {seed.ChainedAccuracy,7:P1} {seed.DirectAccuracy,7:P1} "));
        var m = result.Summary;
        Assert.Contains($"     chained {Percent(m.Chained)}   direct (same budget) {Percent(m.Direct)}", report);
        Assert.Contains($"rounds accepted {m.Accepted}, rejected {m.Rejected}", report);
    }

    [Fact]
    public void Diversified_supervision_report_has_each_variant_with_its_student_accuracy()
    {
        var (r, report) = Report(DiversifiedSupervision.ProtocolName);
        var result = (DiversifiedSupervisionResult)r;
        Assert.NotEmpty(result.Variants);
        foreach (var v in result.Variants)
            HasLineStartingWith(report, Inv($"   {DiversifiedSupervisionReport.Name(v.Variant),-19} {v.Supervisor,-10} {v.SupervisorAccuracy.Mean,7:P1} {Percent(v.StudentAccuracy),-24} "));
        foreach (var seed in result.PerSeed)
            Assert.Contains(Inv($"ceiling {seed.CeilingAccuracy:P1}"), report);
    }

    [Fact]
    public void A_result_of_no_catalog_protocol_has_no_report()
    {
        var output = new StringWriter();
        Assert.False(ProtocolReports.Write(new OtherResult(), output));
        Assert.Equal("", output.ToString());
    }

    private sealed class OtherResult : IProtocolResult
    {
        public double WallSeconds => 0;
    }
}
