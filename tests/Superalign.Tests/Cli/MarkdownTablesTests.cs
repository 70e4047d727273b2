using System.Globalization;
using Superalign.Cli;
using Superalign.Cli.Reports.Markdown;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using Superalign.Tests.Experiments;
using Xunit;

namespace Superalign.Tests.Cli;

/// <summary>
/// <c>superalign tables</c>: each covered protocol's markdown tables hold the values of a small real result (the resume
/// tests' tiny options) in the invariant culture, every table is well formed, the provenance line follows them, and
/// other result types have no tables.
/// </summary>
public sealed class MarkdownTablesTests
{
    private static string P(double fraction) => (100 * fraction).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static string I(SummaryStatistics s) => string.Create(CultureInfo.InvariantCulture, $"[{100 * s.Lower:0.0}, {100 * s.Upper:0.0}]").Replace('-', '−');

    /// <summary>A tiny run of <paramref name="name"/> written as result.json with its provenance, and what <c>superalign tables</c> prints for it under a culture with decimal commas.</summary>
    private static (IProtocolResult Result, string Tables) Tables(string name, ResumeTestKit.TempDirectory dir)
    {
        var result = ProtocolCatalog.Find(name).Create(ResumeTestKit.TinyOptions(name)).Run();
        string file = Path.Combine(dir.Path, "result.json");
        ProtocolJson.Write((object)result, file, ResultProvenance.ForProcess(["seed-0"]));
        var culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
        try
        {
            var (code, output, error) = CommandLineTests.Run("tables", file);
            Assert.True(code == 0, error);
            return (result, output);
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
    }

    /// <summary>Every table has a header, a separator and rows with as many cells; the output ends with the provenance line.</summary>
    private static void WellFormed(string tables, int expectedTables)
    {
        var lines = tables.TrimEnd('\n').Split('\n');
        Assert.StartsWith("*Computed on ", lines[^1]);
        Assert.Contains(" torch thread", lines[^1]);
        Assert.Equal("", lines[^2]);
        var groups = string.Join('\n', lines[..^2]).Split("\n\n");
        Assert.Equal(expectedTables, groups.Length);
        foreach (var table in groups.Select(g => g.Split('\n')))
        {
            Assert.True(table.Length >= 3, $"a table of {table.Length} lines:\n{string.Join('\n', table)}");
            int cells = table[0].Count(c => c == '|');
            Assert.Matches("^\\|(---\\|)+$", table[1]);
            Assert.All(table, row => Assert.Equal(cells, row.Count(c => c == '|')));
            Assert.All(table, row => Assert.DoesNotMatch("[0-9],[0-9]", row));
        }
    }

    [Fact]
    public void Sandwiching_tables_have_each_condition_the_paired_differences_and_each_seed()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        var (r, tables) = Tables(Sandwiching.ProtocolName, dir);
        var result = (SandwichingResult)r;
        WellFormed(tables, 3);
        Assert.Contains($"| judge + debate | {P(result.Debate.Mean)} | {I(result.Debate)} |", tables);
        Assert.Contains($"| judge alone (k = {result.Options.Reveals} random features) | {P(result.NoHelp.Mean)} | {I(result.NoHelp)} |", tables);
        Assert.Contains($"| debate − no help | +{(100 * result.DebateMinusNoHelp.Estimate).ToString("0.0", CultureInfo.InvariantCulture)} |", tables);
        foreach (var seed in result.SeedResults)
            Assert.Contains($"| {seed.Seed} | {P(seed.NoHelpAccuracy)} | {P(seed.ConsultancyAccuracy)} | {P(seed.DebateAccuracy)} | {P(seed.ExpertAccuracy)} |", tables);
    }

    [Fact]
    public void Self_enhancement_table_has_each_judge_and_round()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        var (r, tables) = Tables(SelfEnhancement.ProtocolName, dir);
        var result = (SelfEnhancementResult)r;
        WellFormed(tables, 3);
        foreach (var s in result.Summaries.Where(s => s.Round > 0))
            Assert.Contains($"| {s.Judge.ToString().ToLowerInvariant()} | {s.Round} | {P(s.Competence.Mean)} {I(s.Competence)} | {P(s.Conformity.Mean)} {I(s.Conformity)} |", tables);
        // Every judge starts from the same SFT policy: one row for round 0.
        Assert.Single(tables.Split('\n'), l => l.StartsWith("| (SFT policy) | 0 |", StringComparison.Ordinal));
        // The change from the SFT policy to the last round, recomputed here from the runs: mean of the per-seed differences.
        foreach (var judge in result.Options.Judges)
        {
            var runs = result.Runs.Where(x => x.Judge == judge).ToList();
            double conformity = runs.Average(x => x.Rounds[^1].Scores.Conformity - x.Rounds[0].Scores.Conformity);
            int up = runs.Count(x => x.Rounds[^1].Scores.Conformity > x.Rounds[0].Scores.Conformity);
            var cell = Math.Round(100 * conformity, 1) == 0 ? "0.0" : (100 * conformity).ToString("+0.0;−0.0", CultureInfo.InvariantCulture);
            Assert.Matches($"\\| {judge.ToString().ToLowerInvariant()} \\| [^|]+ \\| {System.Text.RegularExpressions.Regex.Escape(cell)}[^|]* \\| {up} of {runs.Count} \\|", tables);
        }
        var accuracy = result.Runs.Where(x => x.Judge == FeedbackJudge.Verifier).Select(x => x.VerifierAccuracy!.Value).ToList();
        Assert.Equal(2, accuracy.Count);
        Assert.Contains($"| classifier | 32 | {P(accuracy.Average())} ", tables);
    }

    [Fact]
    public void Alignment_tax_tables_pair_every_arm_with_the_sequential_arm()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        var (r, tables) = Tables(AlignmentTax.ProtocolName, dir);
        var result = (AlignmentTaxResult)r;
        string sequential = result.Options.Comparisons[0].Second;
        Assert.Contains($"| arm − {sequential} (paired, t, 2 seeds) |", tables);
        foreach (var arm in result.Options.Arms.Where(a => a.Name != sequential))
        {
            var d = result.Compare(arm.Name, sequential);
            static string S(double v) => Math.Round(100 * v, 1).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture);
            static string Cell(SummaryStatistics x) => $"{S(x.Mean)} [{S(x.Lower)}, {S(x.Upper)}]";
            Assert.Contains($"| {arm.Name} | {Cell(d.Competence)} | {Cell(d.Conformity)} | {Cell(d.CompetenceDrop)} | {d.FirstWins} of 2 |", tables);
        }
        // The mean trajectory of each arm, recomputed here: its last checkpoint is the mean of the final scores.
        foreach (var arm in result.Options.Arms)
        {
            var runs = result.Runs.Where(x => x.Arm == arm.Name).ToList();
            string last = string.Create(CultureInfo.InvariantCulture, $"{runs[0].Trajectory[^1].Batches}: {100 * runs.Average(x => x.Scores.Competence):0.0}/{100 * runs.Average(x => x.Scores.Conformity):0.0} |");
            Assert.Single(tables.Split('\n'), l => l.StartsWith($"| {arm.Name} | 0: ", StringComparison.Ordinal) && l.EndsWith(last, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Gap_annealing_tables_have_the_arms_and_the_paired_comparison()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        var (r, tables) = Tables(GapAnnealing.ProtocolName, dir);
        var m = ((GapAnnealingResult)r).Summary;
        WellFormed(tables, 2);
        Assert.Contains($"| **chained (gap annealing)** | {P(m.Chained.Mean)} {I(m.Chained)} |", tables);
        Assert.Contains($"| weak {((GapAnnealingResult)r).PerSeed[0].Weak} | {P(m.Weak.Mean)} {I(m.Weak)} | – | – |", tables);
        Assert.Contains($"| rounds accepted / rejected | {m.Accepted} / {m.Rejected} |", tables);
        Assert.Contains($"| seeds where chained beats direct | {m.SeedsChainedBetter} of {m.Chained.Count} |", tables);
    }

    [Fact]
    public void Diversified_supervision_tables_have_each_variant_and_each_seed()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        var (r, tables) = Tables(DiversifiedSupervision.ProtocolName, dir);
        var result = (DiversifiedSupervisionResult)r;
        WellFormed(tables, 2);
        foreach (var v in result.Variants)
            Assert.Contains($" | {P(v.StudentAccuracy.Mean)} {I(v.StudentAccuracy)} | ", tables);
        Assert.Contains($"| {result.Options.Members[0].Name} alone | {P(result.Variants[0].StudentAccuracy.Mean)}", tables);
        foreach (var s in result.PerSeed)
            Assert.Contains($"| {s.Seed} | {string.Join(" | ", s.MemberAccuracies.Select(P))} | {P(s.EnsembleAccuracy)} |", tables);
    }

    private sealed record OtherResult(double WallSeconds) : IProtocolResult;

    [Fact]
    public void A_result_type_without_tables_gives_none()
    {
        Assert.False(MarkdownTables.Write(new OtherResult(1), new StringWriter()));
        Assert.Null(MarkdownTables.Render(new OtherResult(1), null));
        var bad = CommandLineTests.Run("tables", "/nonexistent/result.json");
        Assert.Equal(CommandLine.BadInput, bad.Code);
        Assert.Contains("/nonexistent/result.json", bad.Err);
        Assert.Equal(CommandLine.BadInput, CommandLineTests.Run("tables").Code);
    }

    [Fact]
    public void The_provenance_line_names_units_computed_elsewhere_and_units_without_provenance()
    {
        var here = RunProvenance.Capture();
        var there = here with { CpuModel = "Intel(R) Xeon(R) Platinum 8375C", TorchThreads = 2 };
        string line = MarkdownTables.ProvenanceLine(new OtherResult(12.34), new ResultProvenance(here, [new UnitProvenance(there, ["seed-0", "seed-1"])], ["seed-2"]));
        Assert.StartsWith("*Units seed-0, seed-1 computed on Intel(R) Xeon(R) Platinum 8375C (", line);
        Assert.Contains("2 torch threads", line);
        Assert.Contains("units seed-2: provenance not recorded", line);
        Assert.Contains($"result written on {here.CpuModel}", line);
        Assert.EndsWith("wall time 12.3 s.*", line);
        Assert.StartsWith("*Provenance not recorded", MarkdownTables.ProvenanceLine(new OtherResult(1), null));
    }
}
