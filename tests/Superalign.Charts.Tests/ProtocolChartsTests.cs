using System.Text.Json.Nodes;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using Xunit;

namespace Superalign.Charts.Tests;

/// <summary>
/// Every protocol's charts, from results of real runs (Fixtures/*.json, written by <c>superalign run</c>) and from
/// those results with hand-made values: files, ranges, categories, integer ticks, intervals and the Pareto front.
/// </summary>
public sealed class ProtocolChartsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("superalign-protocol-charts-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Fixture(string protocol) => Path.Combine(AppContext.BaseDirectory, "Fixtures", protocol + ".json");

    private static T Read<T>(string protocol) where T : IProtocolResult => (T)Assert.Single(ProtocolResultFile.Read(Fixture(protocol))).Result;

    private static SummaryStatistics S(double mean, double lower, double upper) => new(mean, 0.1, lower, upper, 0.95, 3, IntervalMethod.StudentT);

    private static Chart Named(IProtocolResult result, string name) => Assert.Single(ProtocolCharts.For(result), c => c.Name == name);

    public static TheoryData<string, string[]> Protocols => new()
    {
        { "weak-to-strong", ["pgr-vs-student-size"] },
        { "co-optimization", ["competence-vs-conformity", "pareto", "competence-along-training", "conformity-along-training"] },
        { "alignment-tax", ["trade-off", "tax-competence-along-training", "tax-conformity-along-training"] },
        { "self-enhancement", ["rounds"] },
        { "sandwiching", ["judge-accuracy"] },
        { "gap-annealing", ["chain-accuracy"] },
        { "diversified-supervision", ["copied-errors", "copied-errors-per-member", "student-accuracy"] },
    };

    [Fact]
    public void Every_protocol_of_the_catalog_has_a_fixture_and_charts()
    {
        Assert.Equal(ProtocolCatalog.All.Select(e => e.Name).Order(), Protocols.Select(row => (string)row[0]).Order());
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public void Each_protocol_writes_its_charts_as_png_of_the_requested_size_and_svg(string protocol, string[] names)
    {
        var read = Assert.Single(ProtocolResultFile.Read(Fixture(protocol)));
        Assert.Equal(protocol, read.Entry.Name);
        var paths = ProtocolCharts.Write(read.Result, _dir, ChartFormats.All, 800, 500);

        Assert.Equal(names.SelectMany(n => new[] { Path.Combine(_dir, n + ".png"), Path.Combine(_dir, n + ".svg") }), paths);
        foreach (var png in paths.Where(p => p.EndsWith(".png", StringComparison.Ordinal))) Assert.Equal((800, 500), ChartFiles.PngSize(png));
        foreach (var svg in paths.Where(p => p.EndsWith(".svg", StringComparison.Ordinal))) ChartFiles.Svg(svg, 800, 500);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public void Intervals_stay_in_the_metric_range_and_the_title_says_95_percent_CI_exactly_when_they_are_drawn(string protocol, string[] names)
    {
        var result = Assert.Single(ProtocolResultFile.Read(Fixture(protocol))).Result;
        foreach (var chart in ProtocolCharts.For(result))
        {
            Assert.Contains(chart.Name, names);
            // Every metric but PGR is a rate or an accuracy.
            Assert.Equal(chart.Name == "pgr-vs-student-size" ? ValueRange.Unbounded : ValueRange.Unit, chart.Y.Range);
            using var plot = ChartRenderer.Build(chart);
            var vertical = PlotInspection.VerticalIntervals(plot);
            var horizontal = PlotInspection.HorizontalIntervals(plot);
            Assert.All(vertical, i => Assert.InRange(i.Lower, chart.Y.Range.Min, i.Upper));
            Assert.All(vertical, i => Assert.InRange(i.Upper, i.Lower, chart.Y.Range.Max));
            if (chart is XYChart xy) Assert.All(horizontal, i => Assert.InRange(i.Lower, xy.X.Range.Min, Math.Min(i.Upper, xy.X.Range.Max)));
            bool drawn = vertical.Concat(horizontal).Any(i => i.Upper > i.Lower);
            Assert.True(chart.Title.Contains("95% CI") == drawn, $"{chart.Name}: title '{chart.Title}', intervals drawn: {drawn}");
        }
    }

    [Fact]
    public void A_debate_interval_past_1_and_a_judge_interval_below_0_are_clipped()
    {
        // The measured defect: a debate bar's t-interval reached 1.075.
        var result = Read<SandwichingResult>("sandwiching") with { Debate = S(0.98, 0.885, 1.075), NoHelp = S(0.03, -0.05, 0.11) };
        using var plot = ChartRenderer.Build(Named(result, "judge-accuracy"));
        var intervals = PlotInspection.VerticalIntervals(plot).ToDictionary(i => i.X);
        Assert.Equal(1.0, intervals[2].Upper, 12);
        Assert.Equal(0.885, intervals[2].Lower, 12);
        Assert.Equal(0.0, intervals[0].Lower, 12);
        Assert.Equal(0.11, intervals[0].Upper, 12);
    }

    [Fact]
    public void A_schedule_interval_past_the_unit_square_is_clipped_in_both_directions()
    {
        // The measured defect: a scatter ran to 1.4 conformity and -0.05 competence.
        var fixture = Read<CoOptimizationResult>("co-optimization");
        var result = fixture with { Summaries = [fixture.Summaries[0] with { Competence = S(0.02, -0.05, 0.09), Conformity = S(0.9, 0.4, 1.4) }] };
        using var plot = ChartRenderer.Build(Named(result, "competence-vs-conformity"));
        var vertical = Assert.Single(PlotInspection.VerticalIntervals(plot));
        var horizontal = Assert.Single(PlotInspection.HorizontalIntervals(plot));
        Assert.Equal((0.02, 0.4, 1.0), (vertical.X, Math.Round(vertical.Lower, 12), Math.Round(vertical.Upper, 12)));
        Assert.Equal((0.9, 0.0, 0.09), (horizontal.Y, Math.Round(horizontal.Lower, 12), Math.Round(horizontal.Upper, 12)));
    }

    [Fact]
    public void Pgr_is_not_a_rate_and_its_intervals_are_drawn_as_measured()
    {
        var fixture = Read<WeakToStrongResult>("weak-to-strong");
        var result = fixture with { Pairs = [fixture.Pairs[0] with { Pgr = S(0.4, -0.3, 1.2) }] };
        using var plot = ChartRenderer.Build(Named(result, "pgr-vs-student-size"));
        var interval = Assert.Single(PlotInspection.VerticalIntervals(plot));
        Assert.Equal((-0.3, 1.2), (Math.Round(interval.Lower, 12), Math.Round(interval.Upper, 12)));
    }

    [Fact]
    public void Model_sizes_are_labelled_categories_in_ladder_order()
    {
        var w2s = Read<WeakToStrongResult>("weak-to-strong");
        var pgr = (XYChart)Named(w2s, "pgr-vs-student-size");
        Assert.Equal(["w32-d2", "w64-d3", "w128-d4"], pgr.X.Categories!);
        using (var plot = PlotInspection.Rendered(ChartRenderer.Build(pgr)))
        {
            Assert.Equal(["w32-d2", "w64-d3", "w128-d4"], PlotInspection.MajorTicks(plot.Axes.Bottom).Select(t => t.Label));
            // One point per strong size at its category's index, for each weak model.
            Assert.All(pgr.Series, s => Assert.Equal([0.0, 1, 2], s.X));
        }

        var annealing = Read<GapAnnealingResult>("gap-annealing");
        var chain = (XYChart)Named(annealing, "chain-accuracy");
        Assert.Equal(annealing.Options.Ladder.Select(t => t.Name), chain.X.Categories!);
        using var chainPlot = PlotInspection.Rendered(ChartRenderer.Build(chain));
        Assert.Equal(["w8-d1", "w16-d1", "w32-d2", "w64-d3", "w128-d4"], PlotInspection.MajorTicks(chainPlot.Axes.Bottom).Select(t => t.Label));
        Assert.Equal([1.0, 2, 3, 4], chain.Series[0].X);
    }

    [Fact]
    public void Rounds_are_whole_numbers_on_the_self_enhancement_chart_with_intervals_clipped()
    {
        var fixture = Read<SelfEnhancementResult>("self-enhancement");
        var chart = (XYChart)Named(fixture, "rounds");
        Assert.True(chart.X.IntegerTicks);
        using (var plot = PlotInspection.Rendered(ChartRenderer.Build(chart)))
        {
            var ticks = PlotInspection.MajorTicks(plot.Axes.Bottom);
            Assert.Equal(Enumerable.Range(0, fixture.Options.Rounds + 1).Select(r => (double)r), ticks.Select(t => t.Position));
            Assert.Equal(ticks.Select(t => ((int)t.Position).ToString(System.Globalization.CultureInfo.InvariantCulture)), ticks.Select(t => t.Label));
        }
        var clipped = fixture with { Summaries = [fixture.Summaries[0] with { Conformity = S(0.97, 0.9, 1.04) }] };
        using var clippedPlot = ChartRenderer.Build(Named(clipped, "rounds"));
        Assert.Contains(PlotInspection.VerticalIntervals(clippedPlot), i => Math.Abs(i.Lower - 0.9) < 1e-12 && i.Upper == 1.0);
        Assert.DoesNotContain(PlotInspection.VerticalIntervals(clippedPlot), i => i.Upper > 1);
    }

    [Fact]
    public void The_rounds_chart_draws_the_intervals_its_title_names_and_names_none_without_them()
    {
        // The measured defect: the chart said "95% CI" and drew none.
        var fixture = Read<SelfEnhancementResult>("self-enhancement");
        var chart = Named(fixture, "rounds");
        Assert.Contains("95% CI", chart.Title);
        using (var plot = ChartRenderer.Build(chart))
            Assert.Equal(fixture.Summaries.Count * 2, PlotInspection.VerticalIntervals(plot).Count(i => i.Upper > i.Lower));

        // One seed: no t-interval, so no bar and no "95% CI".
        var one = fixture with { Summaries = fixture.Summaries.Select(s => s with { Competence = S(s.Competence.Mean, double.NaN, double.NaN), Conformity = S(s.Conformity.Mean, double.NaN, double.NaN) }).ToList() };
        var bare = Named(one, "rounds");
        Assert.DoesNotContain("95% CI", bare.Title);
        using var barePlot = ChartRenderer.Build(bare);
        Assert.Empty(PlotInspection.VerticalIntervals(barePlot));
    }

    [Fact]
    public void The_pareto_chart_draws_the_front_of_the_runs_final_points()
    {
        var fixture = Read<CoOptimizationResult>("co-optimization");
        var template = fixture.Runs[0];
        (string Schedule, double Competence, double Conformity)[] points =
        [
            ("a", 0.2, 0.9), ("a", 0.5, 0.7), ("b", 0.4, 0.6), ("b", 0.8, 0.3),
            ("c", 0.8, 0.2), ("c", 0.1, 0.95), ("c", 0.5, 0.7), ("a", 0.05, 0.95),
        ];
        var runs = points.Select((p, i) => template with { Schedule = p.Schedule, Seed = i, Scores = template.Scores with { Competence = p.Competence, Conformity = p.Conformity } }).ToList();
        var result = fixture with { Runs = runs };
        var chart = (XYChart)Named(result, "pareto");

        // By hand: (0.4, 0.6) and the duplicate (0.5, 0.7) are below (0.5, 0.7); (0.8, 0.2) below (0.8, 0.3); (0.05, 0.95) left of (0.1, 0.95).
        (double, double)[] front = [(0.1, 0.95), (0.2, 0.9), (0.5, 0.7), (0.8, 0.3)];
        Assert.Equal(front, chart.Front!);
        using var plot = ChartRenderer.Build(chart);
        Assert.Equal(front, PlotInspection.Points(plot, chart.FrontLabel));
        // Every run is drawn, one series per schedule; the hypervolume of that front against (0, 0) is in the title:
        // 0.1·0.95 + 0.1·0.9 + 0.3·0.7 + 0.3·0.3 = 0.485.
        Assert.Equal(points.Length, chart.Series.Sum(s => s.X.Count));
        Assert.Contains("hypervolume 0.485", chart.Title);
    }

    [Fact]
    public void A_file_holding_two_results_and_a_run_directory_are_read_as_their_protocols()
    {
        // As the GapAnnealing sample writes both of its parts into one result.json.
        var both = new JsonObject
        {
            ["gapAnnealing"] = JsonNode.Parse(File.ReadAllText(Fixture("gap-annealing"))),
            ["diversifiedSupervision"] = JsonNode.Parse(File.ReadAllText(Fixture("diversified-supervision"))),
        };
        string combined = Path.Combine(_dir, "combined.json");
        File.WriteAllText(combined, both.ToJsonString());
        Assert.Equal(["gap-annealing", "diversified-supervision"], ProtocolResultFile.Read(combined).Select(r => r.Entry.Name));

        string run = Directory.CreateDirectory(Path.Combine(_dir, "run")).FullName;
        File.Copy(Fixture("sandwiching"), Path.Combine(run, ProtocolResultFile.ResultFileName));
        File.WriteAllText(Path.Combine(run, ProtocolUnitStore.ManifestFileName), """{ "protocol": "sandwiching" }""");
        Assert.IsType<SandwichingResult>(Assert.Single(ProtocolResultFile.Read(run)).Result);

        File.WriteAllText(Path.Combine(_dir, "other.json"), """{ "accuracy": 0.5 }""");
        Assert.Contains("is not a protocol result", Assert.Throws<InvalidDataException>(() => ProtocolResultFile.Read(Path.Combine(_dir, "other.json"))).Message);
        Assert.Throws<FileNotFoundException>(() => ProtocolResultFile.Read(Path.Combine(_dir, "missing.json")));
    }
}
