using ScottPlot.Plottables;
using Xunit;

namespace Superalign.Charts.Tests;

/// <summary>The chart API: every chart kind written as PNG and SVG, intervals clipped to the axis range, category and integer axes.</summary>
public sealed class ChartRendererTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("superalign-charts-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly ChartSeries Outside = new("outside", [0.02, 0.5, 0.95], [0.9, 0.5, 0.03])
    {
        // Every interval reaches past [0, 1] on at least one side, as a t-interval over few seeds does.
        YIntervals = [new(0.4, 1.4), new(0.45, 0.55), new(-0.2, 0.1)],
        XIntervals = [new(-0.05, 0.09), ChartInterval.None, new(0.9, 1.075)],
    };

    private static XYChart Scatter(ValueRange range) =>
        new("scatter", "Scatter", new ChartAxis("competence") { Range = range }, new ChartAxis("conformity") { Range = range }, [Outside])
        {
            Front = [(0.02, 0.9), (0.5, 0.5), (0.95, 0.03)],
        };

    private static XYChart Line(ChartAxis x) =>
        new("line", "Line", x, ChartAxis.Rate("score"), [new("a", [0, 1, 2, 3], [0.2, 0.4, 0.5, 0.55]), new("b", [0, 1, 2, 3], [0.9, 0.7, 0.6, 0.5])])
        {
            Connect = true,
            ReferenceLines = [new("chance", 0.25)],
        };

    private static BarChart Bars(ValueRange range) =>
        new("bars", "Bars", new ChartAxis("accuracy") { Range = range },
            [new("judge alone", 0.5, new(0.45, 0.55)), new("judge + debate", 0.98, new(0.885, 1.075)), new("missing", double.NaN)])
        {
            ReferenceLines = [new("chance", 0.25)],
        };

    public static TheoryData<string, int, int> Kinds => new() { { "line", 900, 600 }, { "scatter", 640, 480 }, { "bars", 1200, 500 } };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_kind_writes_a_png_of_the_requested_size_and_an_svg_that_parses(string kind, int width, int height)
    {
        Chart chart = kind switch { "line" => Line(new ChartAxis("step") { IntegerTicks = true }), "scatter" => Scatter(ValueRange.Unit), _ => Bars(ValueRange.Unit) };
        var paths = ChartRenderer.Save(chart, Path.Combine(_dir, "nested"), ChartFormats.All, width, height);

        Assert.Equal([Path.Combine(_dir, "nested", kind + ".png"), Path.Combine(_dir, "nested", kind + ".svg")], paths);
        Assert.Equal((width, height), ChartFiles.PngSize(paths[0]));
        var svg = ChartFiles.Svg(paths[1], width, height);
        Assert.Contains(svg.Descendants(), e => e.Name.LocalName == "text" || e.Name.LocalName == "path");
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "nested"), "*.tmp"));
    }

    [Fact]
    public void One_format_writes_one_file()
    {
        Assert.Equal([Path.Combine(_dir, "bars.svg")], ChartRenderer.Save(Bars(ValueRange.Unit), _dir, ChartFormats.Svg));
        Assert.Equal([Path.Combine(_dir, "line.png")], ChartRenderer.Save(Line(new ChartAxis("x")), _dir, ChartFormats.Png));
        Assert.Equal(["bars.svg", "line.png"], Directory.GetFiles(_dir).Select(f => Path.GetFileName(f)!).Order().ToArray());
    }

    [Fact]
    public void Text_is_drawn_headless()
    {
        // Two charts that differ only in their title's glyphs: the wide title darkens many more pixels of the title band
        // than a single narrow letter, which holds only where fonts load and render here (no display, no fontconfig).
        var wide = ChartRenderer.Save(Line(new ChartAxis("x")) with { Name = "wide", Title = "MMMMMMMM WWWWWWWW MMMMMMMM" }, _dir, ChartFormats.Png)[0];
        var narrow = ChartRenderer.Save(Line(new ChartAxis("x")) with { Name = "narrow", Title = "i" }, _dir, ChartFormats.Png)[0];
        int band = 35;
        Assert.True(ChartFiles.DarkPixels(wide, 0, band) > ChartFiles.DarkPixels(narrow, 0, band) + 500,
            $"title glyphs: {ChartFiles.DarkPixels(wide, 0, band)} dark pixels against {ChartFiles.DarkPixels(narrow, 0, band)}");
    }

    [Fact]
    public void Vertical_and_horizontal_intervals_are_clipped_to_the_range()
    {
        using var plot = ChartRenderer.Build(Scatter(ValueRange.Unit));
        Assert.Equal([(0.02, 0.4, 1.0), (0.5, 0.45, 0.55), (0.95, 0.0, 0.1)], Rounded(PlotInspection.VerticalIntervals(plot)));
        Assert.Equal([(0.9, 0.0, 0.09), (0.03, 0.9, 1.0)], Rounded(PlotInspection.HorizontalIntervals(plot)));
    }

    [Fact]
    public void Without_a_range_the_same_intervals_are_drawn_as_given()
    {
        // The control of the test above: clipping comes from the axis's range, not from the data.
        using var plot = ChartRenderer.Build(Scatter(ValueRange.Unbounded));
        Assert.Equal([(0.02, 0.4, 1.4), (0.5, 0.45, 0.55), (0.95, -0.2, 0.1)], Rounded(PlotInspection.VerticalIntervals(plot)));
        Assert.Equal([(0.9, -0.05, 0.09), (0.03, 0.9, 1.075)], Rounded(PlotInspection.HorizontalIntervals(plot)));
    }

    [Fact]
    public void Bar_intervals_are_clipped_and_the_view_stays_near_the_range()
    {
        using var plot = PlotInspection.Rendered(ChartRenderer.Build(Bars(ValueRange.Unit)));
        Assert.Equal([(0.0, 0.45, 0.55), (1.0, 0.885, 1.0)], Rounded(PlotInspection.VerticalIntervals(plot)));
        Assert.All(PlotInspection.MajorTicks(plot.Axes.Left), t => Assert.InRange(t.Position, 0, 1));
        Assert.Contains(plot.GetPlottables<Text>(), t => t.LabelText == "n/a");
        Assert.Equal(["judge alone", "judge + debate", "missing"], PlotInspection.MajorTicks(plot.Axes.Bottom).Select(t => t.Label));
        // Two drawn bars: the missing one has none.
        Assert.Equal([0.0, 1], plot.GetPlottables<BarPlot>().SelectMany(b => b.Bars).Select(b => b.Position));
    }

    [Fact]
    public void A_category_axis_labels_each_category_at_its_index()
    {
        var chart = Line(new ChartAxis("strong student") { Categories = ["w32-d2", "w64-d3", "w128-d4", "w256-d5"] });
        using var plot = PlotInspection.Rendered(ChartRenderer.Build(chart));
        var ticks = PlotInspection.MajorTicks(plot.Axes.Bottom);
        Assert.Equal(["w32-d2", "w64-d3", "w128-d4", "w256-d5"], ticks.Select(t => t.Label));
        Assert.Equal([0.0, 1, 2, 3], ticks.Select(t => t.Position));
    }

    [Fact]
    public void An_integer_axis_has_only_whole_ticks()
    {
        using var integer = PlotInspection.Rendered(ChartRenderer.Build(Line(new ChartAxis("round") { IntegerTicks = true })));
        var ticks = PlotInspection.MajorTicks(integer.Axes.Bottom);
        Assert.True(ticks.Count >= 2, "at least two ticks");
        Assert.All(ticks, t => Assert.Equal(Math.Round(t.Position), t.Position));
        // The control: on 0..3 over 900 pixels automatic ticks fall between the rounds.
        using var automatic = PlotInspection.Rendered(ChartRenderer.Build(Line(new ChartAxis("round"))));
        Assert.Contains(PlotInspection.MajorTicks(automatic.Axes.Bottom), t => t.Position != Math.Round(t.Position));
    }

    [Fact]
    public void The_front_is_drawn_as_given_ordered_by_x_and_named_in_the_legend()
    {
        var chart = Scatter(ValueRange.Unit) with { Front = [(0.95, 0.03), (0.02, 0.9), (0.5, 0.5)] };
        using var plot = ChartRenderer.Build(chart);
        Assert.Equal([(0.02, 0.9), (0.5, 0.5), (0.95, 0.03)], PlotInspection.Points(plot, "Pareto front"));
    }

    [Fact]
    public void Dodged_series_are_drawn_apart_around_their_x_with_their_intervals()
    {
        var chart = Line(new ChartAxis("round") { IntegerTicks = true }) with
        {
            Dodge = 0.1,
            Series = [new("a", [0, 1], [0.2, 0.4]) { YIntervals = [new(0.1, 0.3), new(0.3, 0.5)] }, new("b", [0, 1], [0.9, 0.7])],
        };
        using var plot = ChartRenderer.Build(chart);
        Assert.Equal([(-0.05, 0.2), (0.95, 0.4)], Rounded(PlotInspection.Points(plot, "a")));
        Assert.Equal([(0.05, 0.9), (1.05, 0.7)], Rounded(PlotInspection.Points(plot, "b")));
        Assert.Equal([-0.05, 0.95], PlotInspection.VerticalIntervals(plot).Select(i => Math.Round(i.X, 9)));
    }

    [Fact]
    public void Inconsistent_descriptions_are_refused_with_the_chart_named()
    {
        var bad = new XYChart("bad", "t", new ChartAxis("x"), new ChartAxis("y"), [new("s", [0, 1], [0.5])]);
        Assert.Contains("'bad'", Assert.Throws<ArgumentException>(() => ChartRenderer.Build(bad)).Message);
        var intervals = new XYChart("bad2", "t", new ChartAxis("x"), new ChartAxis("y"), [new("s", [0, 1], [0.5, 0.6]) { YIntervals = [new(0, 1)] }]);
        Assert.Throws<ArgumentException>(() => ChartRenderer.Build(intervals));
        Assert.Throws<ArgumentException>(() => ChartRenderer.Build(Bars(ValueRange.Unit) with { Name = "a/b" }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChartRenderer.Build(Bars(new ValueRange(1, 0))));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChartRenderer.Save(Bars(ValueRange.Unit), _dir, ChartFormats.Png, 20, 600));
        Assert.Throws<ArgumentException>(() => ChartRenderer.Save(Bars(ValueRange.Unit), _dir, 0));
    }

    private static List<(double, double)> Rounded(IEnumerable<(double A, double B)> values) =>
        values.Select(v => (Math.Round(v.A, 9), Math.Round(v.B, 9))).ToList();

    private static List<(double, double, double)> Rounded(IEnumerable<(double A, double B, double C)> values) =>
        values.Select(v => (Math.Round(v.A, 9), Math.Round(v.B, 9), Math.Round(v.C, 9))).ToList();
}
