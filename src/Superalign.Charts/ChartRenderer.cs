using System.Globalization;
using ScottPlot;
using ScottPlot.Plottables;
using ScottPlot.TickGenerators;

namespace Superalign.Charts;

/// <summary>
/// Draws a <see cref="Chart"/> with ScottPlot 5 and writes it as PNG and SVG. Intervals are clipped to their axis's
/// <see cref="ValueRange"/> here, once, for every chart; category axes get one labelled tick per category; integer axes
/// get whole-number ticks only.
/// </summary>
public static class ChartRenderer
{
    /// <summary>The default image width in pixels.</summary>
    public const int DefaultWidth = 900;

    /// <summary>The default image height in pixels.</summary>
    public const int DefaultHeight = 600;

    /// <summary>Okabe–Ito colours (distinguishable with colour-vision deficiencies), yellow last.</summary>
    private static readonly Color[] Palette =
        new[] { "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#F0E442" }.Select(h => new Color(h)).ToArray();

    private static readonly MarkerShape[] Shapes =
        [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledDiamond, MarkerShape.FilledTriangleUp, MarkerShape.FilledTriangleDown];

    /// <summary>A sans-serif font that is installed (ScottPlot's own default here is a serif one), else ScottPlot's default.</summary>
    private static readonly Lazy<string> FontName = new(() =>
        new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica" }
            .FirstOrDefault(name => Fonts.GetTypeface(name, false, false)?.FamilyName == name) ?? Fonts.Default);

    private static readonly LinePattern[] ReferencePatterns = [LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];
    private static readonly Color ReferenceColor = new("#555555"), Ink = new("#222222");

    /// <summary>
    /// The ScottPlot plot of <paramref name="chart"/>, ready to render: what <see cref="Save"/> writes. Its plottables
    /// are the drawn data: one <see cref="Scatter"/> per series (and one for the front), one <see cref="ErrorBar"/> per
    /// series or bar chart holding the clipped intervals, one <see cref="HorizontalLine"/> per reference line.
    /// </summary>
    /// <exception cref="ArgumentException">The chart cannot be drawn (<see cref="Chart.Validate"/>).</exception>
    public static Plot Build(Chart chart)
    {
        ArgumentNullException.ThrowIfNull(chart);
        chart.Validate();
        var plot = new Plot();
        plot.Font.Set(FontName.Value);
        plot.Title(chart.Title, 18);
        plot.YLabel(chart.Y.Label, 15);
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        var limits = chart switch
        {
            XYChart xy => DrawXY(plot, xy),
            BarChart bars => DrawBars(plot, bars),
            _ => throw new ArgumentException($"Unknown chart type {chart.GetType().Name}.", nameof(chart)),
        };
        for (int i = 0; i < chart.ReferenceLines.Count; i++)
        {
            var line = plot.Add.HorizontalLine(chart.ReferenceLines[i].Y, 1.5f, ReferenceColor, ReferencePatterns[i % ReferencePatterns.Length]);
            line.LegendText = chart.ReferenceLines[i].Label;
        }
        plot.Axes.Left.TickGenerator = new RangeTickGenerator(chart.Y.Range, chart.Y.IntegerTicks);
        plot.Axes.SetLimits(limits.X.Min, limits.X.Max, limits.Y.Min, limits.Y.Max);
        if (plot.GetPlottables().Any(p => p.LegendItems.Any(item => !string.IsNullOrEmpty(item.LabelText))))
        {
            plot.Legend.FontSize = 13;
            plot.Legend.SymbolWidth = 30;
            plot.ShowLegend(Edge.Right);
        }
        return plot;
    }

    /// <summary>
    /// Writes <paramref name="chart"/> into <paramref name="directory"/> (created if needed) as
    /// <c>&lt;Name&gt;.png</c> and/or <c>&lt;Name&gt;.svg</c>, each through a temporary file renamed when complete.
    /// </summary>
    /// <returns>The paths written, PNG first.</returns>
    /// <exception cref="ArgumentException">The chart cannot be drawn, or no format is asked for.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is outside [100, 10000] pixels.</exception>
    public static IReadOnlyList<string> Save(Chart chart, string directory, ChartFormats formats = ChartFormats.All,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if ((formats & ChartFormats.All) == 0) throw new ArgumentException("Ask for PNG, SVG or both.", nameof(formats));
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 100);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 100);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(width, 10_000);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(height, 10_000);
        using var plot = Build(chart);
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        if (formats.HasFlag(ChartFormats.Png))
        {
            string path = Path.Combine(directory, chart.Name + ".png");
            WriteAtomically(path, plot.GetImage(width, height).GetImageBytes(ImageFormat.Png));
            written.Add(path);
        }
        if (formats.HasFlag(ChartFormats.Svg))
        {
            string path = Path.Combine(directory, chart.Name + ".svg");
            WriteAtomically(path, System.Text.Encoding.UTF8.GetBytes(plot.GetSvgXml(width, height)));
            written.Add(path);
        }
        return written;
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite: true);
    }

    // ---- line and scatter charts ----------------------------------------------------------------------------------

    private static ((double Min, double Max) X, (double Min, double Max) Y) DrawXY(Plot plot, XYChart chart)
    {
        plot.XLabel(chart.X.Label, 15);
        var xs = new List<double>();
        var ys = new List<double>(chart.ReferenceLines.Select(r => r.Y));
        for (int i = 0; i < chart.Series.Count; i++)
        {
            var s = chart.Series[i];
            var color = Palette[i % Palette.Length];
            var points = Enumerable.Range(0, s.X.Count).Where(k => double.IsFinite(s.X[k]) && double.IsFinite(s.Y[k])).ToArray();
            double shift = (i - (chart.Series.Count - 1) / 2.0) * chart.Dodge;
            double[] px = points.Select(k => s.X[k] + shift).ToArray(), py = points.Select(k => s.Y[k]).ToArray();
            var yIntervals = points.Select(k => s.YIntervals?[k] ?? ChartInterval.None).ToArray();
            var xIntervals = points.Select(k => s.XIntervals?[k] is { } xi ? new ChartInterval(xi.Lower + shift, xi.Upper + shift) : ChartInterval.None).ToArray();
            AddIntervals(plot, px, py, yIntervals, chart.Y.Range, vertical: true, color, xs, ys);
            AddIntervals(plot, px, py, xIntervals, chart.X.Range, vertical: false, color, xs, ys);
            var scatter = plot.Add.Scatter(px, py, color);
            scatter.LegendText = s.Name;
            scatter.LineWidth = chart.Connect ? 2 : 0;
            scatter.MarkerShape = Shapes[i % Shapes.Length];
            scatter.MarkerSize = chart.Connect ? 9 : 11;
            xs.AddRange(px);
            ys.AddRange(py);
        }
        if (chart.Front is { Count: > 0 } front)
        {
            var ordered = front.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).OrderBy(p => p.X).ThenByDescending(p => p.Y).ToArray();
            var line = plot.Add.Scatter(ordered.Select(p => p.X).ToArray(), ordered.Select(p => p.Y).ToArray(), Ink);
            line.LegendText = chart.FrontLabel;
            line.LineWidth = 1.5f;
            line.LinePattern = LinePattern.Dashed;
            line.MarkerShape = MarkerShape.OpenCircle;
            line.MarkerSize = 17;
            plot.MoveToBack(line);
            xs.AddRange(ordered.Select(p => p.X));
            ys.AddRange(ordered.Select(p => p.Y));
        }

        (double, double) xLimits;
        if (chart.X.Categories is { } categories)
        {
            plot.Axes.Bottom.TickGenerator = new NumericManual(
                Enumerable.Range(0, categories.Count).Select(i => (double)i).ToArray(), categories.ToArray());
            xLimits = (-0.5, Math.Max(categories.Count, 1) - 0.5);
        }
        else
        {
            plot.Axes.Bottom.TickGenerator = new RangeTickGenerator(chart.X.Range, chart.X.IntegerTicks);
            xLimits = View(xs, chart.X.Range, chart.X.IntegerTicks ? 0.5 : 0);
        }
        return (xLimits, View(ys, chart.Y.Range, 0));
    }

    /// <summary>
    /// One <see cref="ErrorBar"/> for the points that have an interval (<paramref name="vertical"/>: in y), each clipped
    /// to <paramref name="range"/>; the clipped ends join the values the view must show.
    /// </summary>
    private static void AddIntervals(Plot plot, double[] x, double[] y, ChartInterval[] intervals, ValueRange range, bool vertical,
        Color color, List<double> xs, List<double> ys)
    {
        var drawn = Enumerable.Range(0, x.Length).Where(k => intervals[k].Exists).ToArray();
        if (drawn.Length == 0) return;
        double[] at = drawn.Select(k => vertical ? y[k] : x[k]).ToArray();
        var clipped = drawn.Select(k => intervals[k].ClippedTo(range)).ToArray();
        double[] negative = clipped.Select((c, j) => Math.Max(0, at[j] - c.Lower)).ToArray();
        double[] positive = clipped.Select((c, j) => Math.Max(0, c.Upper - at[j])).ToArray();
        double[] px = drawn.Select(k => x[k]).ToArray(), py = drawn.Select(k => y[k]).ToArray();
        var bars = vertical
            ? new ErrorBar(px, py, null, null, positive, negative)
            : new ErrorBar(px, py, positive, negative, null, null);
        bars.Color = color;
        bars.LineWidth = 1.5f;
        bars.CapSize = 8;
        plot.Add.Plottable(bars);
        (vertical ? ys : xs).AddRange(clipped.SelectMany(c => new[] { c.Lower, c.Upper }));
    }

    // ---- bar charts -------------------------------------------------------------------------------------------------

    private static ((double Min, double Max) X, (double Min, double Max) Y) DrawBars(Plot plot, BarChart chart)
    {
        var ys = new List<double>(chart.ReferenceLines.Select(r => r.Y)) { 0 };
        // Bars of one group share a colour and a legend entry; ungrouped bars each get the next colour.
        var groups = chart.Bars.Select(b => b.Group).Where(g => g is not null).Distinct().ToList();
        for (int i = 0; i < chart.Bars.Count; i++)
        {
            var b = chart.Bars[i];
            if (!double.IsFinite(b.Value)) continue;
            ys.Add(b.Value);
            if (b.Group is null)
                plot.Add.Bars(new[] { new Bar { Position = i, Value = b.Value, FillColor = Palette[i % Palette.Length], Size = 0.6, LineWidth = 0 } });
        }
        for (int g = 0; g < groups.Count; g++)
        {
            var members = Enumerable.Range(0, chart.Bars.Count).Where(i => chart.Bars[i].Group == groups[g] && double.IsFinite(chart.Bars[i].Value));
            var color = Palette[g % Palette.Length];
            var bars = plot.Add.Bars(members.Select(i => new Bar { Position = i, Value = chart.Bars[i].Value, FillColor = color, Size = 0.6, LineWidth = 0 }).ToList());
            bars.LegendText = groups[g]!;
        }

        var x = Enumerable.Range(0, chart.Bars.Count).Where(i => double.IsFinite(chart.Bars[i].Value)).Select(i => (double)i).ToArray();
        var values = x.Select(i => chart.Bars[(int)i].Value).ToArray();
        var intervals = x.Select(i => chart.Bars[(int)i].Interval).ToArray();
        AddIntervals(plot, x, values, intervals, chart.Y.Range, vertical: true, Ink, [], ys);

        var view = View(ys, chart.Y.Range, 0, headroom: 0.12);
        double labelGap = 0.015 * (view.Max - view.Min);
        for (int i = 0; i < chart.Bars.Count; i++)
        {
            var b = chart.Bars[i];
            string text = double.IsFinite(b.Value) ? Format(b.Value) : "n/a";
            double top = double.IsFinite(b.Value) ? b.Value : 0;
            if (b.Interval.Exists && double.IsFinite(b.Value)) top = Math.Max(top, b.Interval.ClippedTo(chart.Y.Range).Upper);
            var label = plot.Add.Text(text, i, Math.Max(top, 0) + labelGap);
            label.Alignment = Alignment.LowerCenter;
            label.LabelFontSize = 13;
            label.LabelFontColor = Ink;
        }
        plot.Axes.Bottom.TickGenerator = new NumericManual(
            Enumerable.Range(0, chart.Bars.Count).Select(i => (double)i).ToArray(), chart.Bars.Select(b => b.Label).ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        // Labels that would run into each other are turned, so each stays readable under its own bar.
        int longest = chart.Bars.Max(b => b.Label.Length);
        if (chart.Bars.Count * longest > 90)
        {
            plot.Axes.Bottom.TickLabelStyle.Rotation = 30;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
            plot.Axes.Bottom.MinimumSize = 20 + 0.5f * 8 * longest; // the turned labels' height: sin 30° of their width
        }
        plot.Grid.XAxisStyle.IsVisible = false; // no vertical lines through the bars; the horizontal ones stay
        return ((-0.5, chart.Bars.Count - 0.5), view);
    }

    // ---- shared -----------------------------------------------------------------------------------------------------

    /// <summary>
    /// The view of an axis: the finite <paramref name="values"/> padded by 6% (and <paramref name="headroom"/> more on
    /// top), but never more than 3% of the span past the metric's range, so a [0, 1] axis does not show −0.2 or 1.4.
    /// </summary>
    private static (double Min, double Max) View(IEnumerable<double> values, ValueRange range, double minimumPad, double headroom = 0)
    {
        var finite = values.Where(double.IsFinite).ToArray();
        double lo = finite.Length > 0 ? finite.Min() : range.IsBounded ? range.Min : 0;
        double hi = finite.Length > 0 ? finite.Max() : range.IsBounded ? range.Max : 1;
        if (hi - lo < 1e-9)
        {
            double half = range.IsBounded ? 0.05 * (range.Max - range.Min) : Math.Max(0.5, Math.Abs(lo) * 0.1);
            (lo, hi) = (lo - half, hi + half);
        }
        double span = hi - lo, pad = Math.Max(0.06 * span, minimumPad);
        double min = lo - pad, max = hi + pad + headroom * span;
        if (double.IsFinite(range.Min)) min = Math.Max(min, range.Min - 0.03 * span);
        if (double.IsFinite(range.Max)) max = Math.Min(max, range.Max + (0.03 + headroom) * span);
        return (min, max);
    }

    private static string Format(double v) =>
        v.ToString(Math.Abs(v) >= 100 ? "0" : Math.Abs(v) >= 10 ? "0.#" : "0.###", CultureInfo.InvariantCulture);
}
