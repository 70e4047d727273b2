using System.Globalization;

namespace Superalign.Samples;

/// <summary>
/// PNG charts of experiment results for the sample programs: line charts, scatter charts with 2-D error bars and bar
/// charts. Rendering is pure managed code (own raster, bitmap font and PNG encoder). Files are written atomically
/// (temporary file, then rename) and their folder is created if needed.
/// </summary>
public static class Charts
{
    /// <summary>The default image width in pixels.</summary>
    public const int DefaultWidth = 900;
    /// <summary>The default image height in pixels.</summary>
    public const int DefaultHeight = 600;

    /// <summary>Okabe–Ito colours, ordered so the first ones contrast most on white (yellow last).</summary>
    internal static readonly Rgba[] Palette =
        new[] { "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#F0E442" }.Select(Rgba.Hex).ToArray();

    private static readonly double[][] DashPatterns = [[10, 6], [3, 4], [12, 4, 3, 4]];
    private static readonly Rgba ReferenceColor = Rgba.Hex("#444444"), Grid = Rgba.Hex("#E6E6E6"),
        Ink = Rgba.Hex("#222222"), FrameColor = Rgba.Hex("#555555"), LegendBorder = Rgba.Hex("#AAAAAA");
    private const int S = 2, TitleScale = 3, Pad = 16, TickLen = 5;
    private static int TextHeight(int scale) => BitmapFont.GlyphHeight * scale;
    private static int CapHeight(int scale) => BitmapFont.Ascent * scale;

    /// <summary>
    /// A line chart: each series' points joined in the given order (broken at non-finite points), with markers, vertical
    /// and (if given) horizontal error bars, a legend, and optional dashed horizontal reference lines.
    /// </summary>
    /// <param name="path">The PNG file to write.</param>
    /// <param name="title">The chart title.</param>
    /// <param name="xLabel">The x-axis label.</param>
    /// <param name="yLabel">The y-axis label.</param>
    /// <param name="series">The series, at least one.</param>
    /// <param name="referenceLines">Horizontal lines such as a weak supervisor's or the ceiling's score, listed in the legend.</param>
    /// <param name="logX">Whether the x axis is logarithmic (all finite x must then be positive).</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <exception cref="ArgumentException">An argument is missing, empty or inconsistent; the exception names it.</exception>
    public static void Line(string path, string title, string xLabel, string yLabel, IReadOnlyList<ChartSeries> series,
        IReadOnlyList<(string Label, double Y)>? referenceLines = null, bool logX = false,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        ValidatePath(path);
        Save(path, RenderXY(title, xLabel, yLabel, series, referenceLines, logX, connect: true, width, height).Image);
    }

    /// <summary>
    /// A scatter chart: one marker per point with x and y error bars, each series in its own colour and marker shape,
    /// named in the legend (e.g. competence against conformity, one series per training schedule).
    /// </summary>
    /// <param name="path">The PNG file to write.</param>
    /// <param name="title">The chart title.</param>
    /// <param name="xLabel">The x-axis label.</param>
    /// <param name="yLabel">The y-axis label.</param>
    /// <param name="series">The series, at least one.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <exception cref="ArgumentException">An argument is missing, empty or inconsistent; the exception names it.</exception>
    public static void Scatter(string path, string title, string xLabel, string yLabel, IReadOnlyList<ChartSeries> series,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        ValidatePath(path);
        Save(path, RenderXY(title, xLabel, yLabel, series, null, logX: false, connect: false, width, height).Image);
    }

    /// <summary>
    /// A bar chart: vertical bars from zero with error bars, the value printed above each bar, category labels below,
    /// and optional dashed horizontal reference lines (listed in a legend).
    /// </summary>
    /// <param name="path">The PNG file to write.</param>
    /// <param name="title">The chart title.</param>
    /// <param name="yLabel">The y-axis label.</param>
    /// <param name="bars">The bars, at least one, drawn left to right.</param>
    /// <param name="referenceLines">Horizontal lines such as chance level or a ceiling.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <exception cref="ArgumentException">An argument is missing, empty or inconsistent; the exception names it.</exception>
    public static void Bars(string path, string title, string yLabel, IReadOnlyList<ChartBar> bars,
        IReadOnlyList<(string Label, double Y)>? referenceLines = null, int width = DefaultWidth, int height = DefaultHeight)
    {
        ValidatePath(path);
        Save(path, RenderBars(title, yLabel, bars, referenceLines, width, height).Image);
    }

    /// <summary>Renders a line (<paramref name="connect"/>) or scatter chart; the tests read its <see cref="PlotArea"/>.</summary>
    internal static (Raster Image, PlotArea Area) RenderXY(string title, string xLabel, string yLabel,
        IReadOnlyList<ChartSeries> series, IReadOnlyList<(string Label, double Y)>? referenceLines, bool logX, bool connect,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        ValidateCommon(title, yLabel, width, height, referenceLines);
        ArgumentNullException.ThrowIfNull(xLabel);
        ValidateSeries(series, logX);
        var refs = referenceLines ?? [];

        var xs = series.SelectMany(s => s.X.Concat(s.XLower ?? []).Concat(s.XUpper ?? []));
        var ys = series.SelectMany(s => s.Y.Concat(s.YLower ?? []).Concat(s.YUpper ?? [])).Concat(refs.Select(r => r.Y));
        Axis xAxis = Axis.For(xs, logX), yAxis = Axis.For(ys, log: false);

        var legend = series.Select((s, i) => new LegendEntry(s.Name, Palette[i % Palette.Length], (Marker)(i % 5), connect, null))
            .Concat(refs.Select((r, i) => new LegendEntry(r.Label, ReferenceColor, null, true, DashPatterns[i % DashPatterns.Length])))
            .ToList();
        var (image, area) = Frame(width, height, title, xLabel, yLabel, xAxis, yAxis, legend, categories: null);

        image.Clip = ((int)area.Left, (int)area.Top, (int)area.Right, (int)area.Bottom);
        DrawReferenceLines(image, area, refs);
        double r = connect ? 4.5 : 6;
        for (int i = 0; i < series.Count; i++)
        {
            ChartSeries s = series[i];
            Rgba c = Palette[i % Palette.Length];
            var points = Enumerable.Range(0, s.X.Count).Where(k => Finite(s.X[k], s.Y[k])).ToList();
            foreach (int k in points) DrawErrorBars(image, area, s, k, c, cap: connect ? 4 : 5);
            if (connect)
                for (int k = 1; k < s.X.Count; k++)
                    if (Finite(s.X[k - 1], s.Y[k - 1], s.X[k], s.Y[k]))
                        image.Line(area.PixelX(s.X[k - 1]), area.PixelY(s.Y[k - 1]), area.PixelX(s.X[k]), area.PixelY(s.Y[k]), 2, c);
            foreach (int k in points) DrawMarker(image, (Marker)(i % 5), area.PixelX(s.X[k]), area.PixelY(s.Y[k]), r, c);
        }
        image.ResetClip();
        return (image, area);
    }

    /// <summary>Renders a bar chart; bar i is centred on x = i + 0.5 of the returned <see cref="PlotArea"/>.</summary>
    internal static (Raster Image, PlotArea Area) RenderBars(string title, string yLabel, IReadOnlyList<ChartBar> bars,
        IReadOnlyList<(string Label, double Y)>? referenceLines, int width = DefaultWidth, int height = DefaultHeight)
    {
        ValidateCommon(title, yLabel, width, height, referenceLines);
        ArgumentNullException.ThrowIfNull(bars);
        if (bars.Count == 0) throw new ArgumentException("At least one bar is needed.", nameof(bars));
        for (int i = 0; i < bars.Count; i++)
            if (bars[i]?.Label is null) throw new ArgumentException($"Bar {i} or its label is null.", nameof(bars));
        var refs = referenceLines ?? [];

        var values = bars.SelectMany(b => new[] { b.Value, b.Lower ?? double.NaN, b.Upper ?? double.NaN })
            .Concat(refs.Select(r => r.Y)).Where(double.IsFinite).Append(0).ToArray();
        double lo = values.Min(), hi = values.Max();
        if (hi == lo) hi = 1;
        double span = hi - lo; // room for the value labels on the side(s) away from zero
        Axis yAxis = Axis.Linear(lo < 0 ? lo - 0.12 * span : 0, hi > 0 ? hi + 0.12 * span : 0);
        Axis xAxis = new(0, bars.Count, false, []);

        var legend = refs.Select((r, i) => new LegendEntry(r.Label, ReferenceColor, null, true, DashPatterns[i % DashPatterns.Length])).ToList();
        var (image, area) = Frame(width, height, title, "", yLabel, xAxis, yAxis, legend, bars.Select(b => b.Label).ToList());

        double slot = (area.Right - area.Left) / bars.Count, half = Math.Min(0.3 * slot, 60), zero = area.PixelY(0);
        image.Clip = ((int)area.Left, (int)area.Top, (int)area.Right, (int)area.Bottom);
        if (yAxis.Min < 0) image.FillRect((int)area.Left, (int)Math.Floor(zero), (int)area.Right, (int)Math.Floor(zero) + 1, FrameColor);
        for (int i = 0; i < bars.Count; i++)
        {
            ChartBar b = bars[i];
            double cx = area.PixelX(i + 0.5);
            if (!double.IsFinite(b.Value))
            {
                CenteredText(image, "n/a", cx, zero - CapHeight(S) - 4, slot, Ink);
                continue;
            }
            double top = area.PixelY(b.Value);
            image.FillRect((int)Math.Round(cx - half), (int)Math.Round(Math.Min(top, zero)), (int)Math.Round(cx + half),
                (int)Math.Round(Math.Max(top, zero)), Palette[i % Palette.Length]);
            double lower = Finite(b.Lower ?? double.NaN) ? b.Lower!.Value : b.Value, upper = Finite(b.Upper ?? double.NaN) ? b.Upper!.Value : b.Value;
            if (lower != b.Value || upper != b.Value) ErrorBar(image, cx, area.PixelY(lower), cx, area.PixelY(upper), Ink, 6, vertical: true);
            string text = FormatValue(b.Value);
            double labelTop = b.Value >= 0
                ? area.PixelY(Math.Max(b.Value, Math.Max(lower, upper))) - 6 - CapHeight(S)
                : area.PixelY(Math.Min(b.Value, Math.Min(lower, upper))) + 6;
            CenteredText(image, text, cx, labelTop, slot, Ink);
        }
        DrawReferenceLines(image, area, refs);
        image.ResetClip();
        return (image, area);
    }

    // ---- layout shared by all charts ----------------------------------------------------------------------------

    private enum Marker { Circle, Square, Diamond, TriangleUp, TriangleDown }

    private sealed record LegendEntry(string Label, Rgba Color, Marker? Marker, bool Line, double[]? Dash);

    /// <summary>
    /// Lays out and draws everything but the data: title, grid, frame, ticks and their labels, axis labels, legend (right
    /// of the plot) and, for bar charts, the category labels. Returns the image and the plot area the data goes in.
    /// </summary>
    private static (Raster, PlotArea) Frame(int width, int height, string title, string xLabel, string yLabel,
        Axis xAxis, Axis yAxis, IReadOnlyList<LegendEntry> legend, IReadOnlyList<string>? categories)
    {
        var image = new Raster(width, height, Rgba.White);
        var yLabels = yAxis.Labels();
        var xLabels = xAxis.Labels();

        int top = title.Length > 0 ? 14 + TextHeight(TitleScale) + 10 : 20;
        int left = Pad + (yLabel.Length > 0 ? TextHeight(S) + 10 : 0) + yLabels.Max(l => BitmapFont.Measure(l, S)) + TickLen + 6;
        int legendScale = legend.Count * (TextHeight(S) + 6) + 16 > height - top - 80 ? 1 : S;
        int legendWidth = 0;
        var legendText = new List<string>();
        if (legend.Count > 0)
        {
            int maxText = width / 3;
            legendText = legend.Select(e => Truncate(e.Label, legendScale, maxText)).ToList();
            legendWidth = 12 + 30 + 8 + legendText.Max(t => BitmapFont.Measure(t, legendScale)) + 12;
        }
        int lastHalf = xLabels.Count > 0 ? BitmapFont.Measure(xLabels[^1], S) / 2 + 6 : 0;
        int right = width - (legend.Count > 0 ? Pad + legendWidth : 0) - Math.Max(Pad + 4, lastHalf);

        (string[][] Lines, int Scale)? fitted = null;
        int bottomBlock = 8 + TextHeight(S) + (xLabel.Length > 0 ? 8 + TextHeight(S) : 0) + 12;
        if (categories is not null)
        {
            double slot = (right - left) / (double)categories.Count;
            fitted = FitLabels(categories, (int)slot - 6);
            bottomBlock = 8 + fitted.Value.Lines.Max(l => l.Length) * (TextHeight(fitted.Value.Scale) + 2) + 12;
        }
        int bottom = height - bottomBlock;
        if (right - left < 40 || bottom - top < 40)
            throw new ArgumentOutOfRangeException(nameof(width), $"A {width}x{height} image leaves no room for the plot.");
        var area = new PlotArea(left, top, right, bottom, xAxis, yAxis);

        // Grid and tick marks.
        for (int i = 0; i < yAxis.Ticks.Count; i++)
        {
            int py = (int)Math.Floor(area.PixelY(yAxis.Ticks[i]));
            image.FillRect(left, py, right, py + 1, Grid);
            image.FillRect(left - TickLen, py, left, py + 1, FrameColor);
            image.Text(left - TickLen - 4 - BitmapFont.Measure(yLabels[i], S), py - CapHeight(S) / 2, yLabels[i], S, Ink);
        }
        for (int i = 0; i < xAxis.Ticks.Count; i++)
        {
            int px = (int)Math.Floor(area.PixelX(xAxis.Ticks[i]));
            image.FillRect(px, top, px + 1, bottom, Grid);
            image.FillRect(px, bottom, px + 1, bottom + TickLen, FrameColor);
            image.Text(px - BitmapFont.Measure(xLabels[i], S) / 2, bottom + TickLen + 4, xLabels[i], S, Ink);
        }
        image.StrokeRect(left - 1, top - 1, right + 1, bottom + 1, FrameColor);

        // Texts.
        if (title.Length > 0)
        {
            int scale = BitmapFont.Measure(title, TitleScale) <= width - 2 * Pad ? TitleScale : S;
            string t = Truncate(title, scale, width - 2 * Pad);
            image.Text((width - BitmapFont.Measure(t, scale)) / 2, 14, t, scale, Ink);
        }
        if (xLabel.Length > 0)
        {
            string t = Truncate(xLabel, S, right - left);
            image.Text((left + right - BitmapFont.Measure(t, S)) / 2, bottom + TickLen + 4 + TextHeight(S) + 6, t, S, Ink);
        }
        if (yLabel.Length > 0)
        {
            string t = Truncate(yLabel, S, bottom - top);
            image.Text(Pad, (top + bottom + BitmapFont.Measure(t, S)) / 2, t, S, Ink, vertical: true);
        }
        if (fitted is var (lines, lineScale))
        {
            double slot = (right - left) / (double)lines.Length;
            for (int i = 0; i < lines.Length; i++)
                for (int k = 0; k < lines[i].Length; k++)
                    CenteredText(image, lines[i][k], area.PixelX(i + 0.5), bottom + 8 + k * (TextHeight(lineScale) + 2), slot, Ink, lineScale);
        }

        // Legend box, top right.
        if (legend.Count > 0)
        {
            int row = TextHeight(legendScale) + 6, lx = width - Pad - legendWidth, ly = top;
            image.FillRect(lx, ly, lx + legendWidth, ly + legend.Count * row + 12, Rgba.White);
            image.StrokeRect(lx, ly, lx + legendWidth, ly + legend.Count * row + 12, LegendBorder);
            for (int i = 0; i < legend.Count; i++)
            {
                LegendEntry e = legend[i];
                double cy = ly + 6 + i * row + row / 2.0, x0 = lx + 12, x1 = x0 + 30;
                if (e.Dash is not null) image.DashedLine(x0, cy, x1, cy, 2, e.Color, e.Dash);
                else if (e.Line) image.Line(x0, cy, x1, cy, 2, e.Color);
                if (e.Marker is { } m) DrawMarker(image, m, (x0 + x1) / 2, cy, e.Line ? 4.5 : 6, e.Color);
                image.Text((int)x1 + 8, (int)Math.Round(cy - CapHeight(legendScale) / 2.0), legendText[i], legendScale, Ink);
            }
        }
        return (image, area);
    }

    private static void DrawReferenceLines(Raster image, PlotArea area, IReadOnlyList<(string Label, double Y)> refs)
    {
        for (int i = 0; i < refs.Count; i++)
        {
            double py = Math.Floor(area.PixelY(refs[i].Y)) + 0.5;
            image.DashedLine(area.Left, py, area.Right, py, 2, ReferenceColor, DashPatterns[i % DashPatterns.Length]);
        }
    }

    private static void DrawErrorBars(Raster image, PlotArea area, ChartSeries s, int k, Rgba c, double cap)
    {
        double px = area.PixelX(s.X[k]), py = area.PixelY(s.Y[k]);
        double Bound(IReadOnlyList<double>? b, double fallback) => b is not null && double.IsFinite(b[k]) ? b[k] : fallback;
        double yl = Bound(s.YLower, s.Y[k]), yu = Bound(s.YUpper, s.Y[k]);
        if (yl != s.Y[k] || yu != s.Y[k]) ErrorBar(image, px, area.PixelY(yl), px, area.PixelY(yu), c, cap, vertical: true);
        double xl = Bound(s.XLower, s.X[k]), xu = Bound(s.XUpper, s.X[k]);
        if (area.X.Log) (xl, xu) = (xl > 0 ? xl : area.X.Min, xu > 0 ? xu : area.X.Min);
        if (xl != s.X[k] || xu != s.X[k]) ErrorBar(image, area.PixelX(xl), py, area.PixelX(xu), py, c, cap, vertical: false);
    }

    /// <summary>An interval line with perpendicular caps at both ends, snapped to pixel centres so it stays crisp.</summary>
    private static void ErrorBar(Raster image, double x0, double y0, double x1, double y1, Rgba c, double cap, bool vertical)
    {
        static double Snap(double v) => Math.Floor(v) + 0.5;
        (x0, y0, x1, y1) = (Snap(x0), Snap(y0), Snap(x1), Snap(y1));
        image.Line(x0, y0, x1, y1, 1.5, c);
        foreach (var (x, y) in new[] { (x0, y0), (x1, y1) })
            if (vertical) image.Line(x - cap, y, x + cap, y, 1.5, c);
            else image.Line(x, y - cap, x, y + cap, 1.5, c);
    }

    /// <summary>A filled marker with a white halo so overlapping markers and lines stay distinguishable.</summary>
    private static void DrawMarker(Raster image, Marker m, double x, double y, double r, Rgba c)
    {
        Shape(r + 1.5, Rgba.White);
        Shape(r, c);

        void Shape(double s, Rgba colour)
        {
            switch (m)
            {
                case Marker.Circle: image.FillCircle(x, y, s, colour); break;
                case Marker.Square: s *= 0.9; image.FillConvex([(x - s, y - s), (x + s, y - s), (x + s, y + s), (x - s, y + s)], colour); break;
                case Marker.Diamond: s *= 1.3; image.FillConvex([(x, y - s), (x + s, y), (x, y + s), (x - s, y)], colour); break;
                case Marker.TriangleUp: s *= 1.3; image.FillConvex([(x, y - s), (x + s, y + 0.7 * s), (x - s, y + 0.7 * s)], colour); break;
                default: s *= 1.3; image.FillConvex([(x, y + s), (x + s, y - 0.7 * s), (x - s, y - 0.7 * s)], colour); break;
            }
        }
    }

    // ---- text helpers -------------------------------------------------------------------------------------------

    /// <summary>Draws one line centred on <paramref name="cx"/>; falls back to scale 1 when it is wider than <paramref name="maxWidth"/>.</summary>
    private static void CenteredText(Raster image, string text, double cx, double top, double maxWidth, Rgba c, int scale = S)
    {
        if (BitmapFont.Measure(text, scale) > maxWidth - 4) scale = 1;
        text = Truncate(text, scale, (int)maxWidth - 4);
        image.Text((int)Math.Round(cx - BitmapFont.Measure(text, scale) / 2.0), (int)Math.Round(top), text, scale, c);
    }

    private static string Truncate(string text, int scale, int maxWidth)
    {
        if (BitmapFont.Measure(text, scale) <= maxWidth) return text;
        int chars = Math.Max(0, (maxWidth / scale + 1) / BitmapFont.Advance - 2);
        return text[..Math.Min(chars, text.Length)] + "..";
    }

    /// <summary>
    /// Wraps the category labels at spaces, all at one scale so they look alike: two lines at the normal scale, else
    /// three small ones; only when a word is wider than its slot even then is it broken, and the rest truncated.
    /// </summary>
    private static (string[][] Lines, int Scale) FitLabels(IReadOnlyList<string> labels, int maxWidth)
    {
        foreach (var (scale, maxLines) in new[] { (S, 2), (1, 3) })
        {
            var wrapped = labels.Select(l => Wrap(l, Math.Max(1, (maxWidth / scale + 1) / BitmapFont.Advance))).ToList();
            if (wrapped.All(w => !w.Broken && w.Lines.Count <= maxLines)) return (wrapped.Select(w => w.Lines.ToArray()).ToArray(), scale);
        }
        return (labels.Select(l =>
        {
            var lines = Wrap(l, Math.Max(1, (maxWidth + 1) / BitmapFont.Advance)).Lines;
            return lines.Count <= 3 ? lines.ToArray() : [lines[0], lines[1], Truncate(string.Join(" ", lines.Skip(2)), 1, maxWidth)];
        }).ToArray(), 1);
    }

    /// <summary>Greedy word wrap; <c>Broken</c> tells whether a word longer than a line had to be split.</summary>
    private static (List<string> Lines, bool Broken) Wrap(string text, int maxChars)
    {
        var lines = new List<string>();
        string current = "";
        bool broken = false;
        foreach (string word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            string w = word;
            for (; w.Length > maxChars; w = w[maxChars..], broken = true)
            {
                if (current.Length > 0) { lines.Add(current); current = ""; }
                lines.Add(w[..maxChars]);
            }
            if (current.Length == 0) current = w;
            else if (current.Length + 1 + w.Length <= maxChars) current += " " + w;
            else { lines.Add(current); current = w; }
        }
        if (current.Length > 0 || lines.Count == 0) lines.Add(current);
        return (lines, broken);
    }

    private static string FormatValue(double v) =>
        v.ToString(Math.Abs(v) >= 100 ? "0" : Math.Abs(v) >= 10 ? "0.#" : "0.###", CultureInfo.InvariantCulture);

    // ---- validation and output ----------------------------------------------------------------------------------

    private static bool Finite(params double[] v) => v.All(double.IsFinite);

    private static void ValidatePath(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("An output path is needed.", nameof(path));
    }

    private static void ValidateCommon(string title, string yLabel, int width, int height,
        IReadOnlyList<(string Label, double Y)>? referenceLines)
    {
        ArgumentNullException.ThrowIfNull(title);
        ArgumentNullException.ThrowIfNull(yLabel);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 200);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 150);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(width, 10_000);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(height, 10_000);
        if (referenceLines is null) return;
        for (int i = 0; i < referenceLines.Count; i++)
            if (referenceLines[i].Label is null || !double.IsFinite(referenceLines[i].Y))
                throw new ArgumentException($"Reference line {i} needs a label and a finite Y.", nameof(referenceLines));
    }

    private static void ValidateSeries(IReadOnlyList<ChartSeries> series, bool logX)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0) throw new ArgumentException("At least one series is needed.", nameof(series));
        for (int i = 0; i < series.Count; i++)
        {
            ChartSeries s = series[i] ?? throw new ArgumentException($"Series {i} is null.", nameof(series));
            string who = $"Series {i} ('{s.Name}')";
            if (s.Name is null || s.X is null || s.Y is null)
                throw new ArgumentException($"Series {i} needs a name, X and Y.", nameof(series));
            if (s.X.Count != s.Y.Count)
                throw new ArgumentException($"{who} has {s.X.Count} X values but {s.Y.Count} Y values.", nameof(series));
            foreach (var (bound, name) in new[] { (s.YLower, "YLower"), (s.YUpper, "YUpper"), (s.XLower, "XLower"), (s.XUpper, "XUpper") })
                if (bound is not null && bound.Count != s.X.Count)
                    throw new ArgumentException($"{who} has {s.X.Count} points but {bound.Count} {name} values.", nameof(series));
            if (logX && s.X.Any(x => double.IsFinite(x) && x <= 0))
                throw new ArgumentException($"{who} has an x <= 0, which a logarithmic x axis cannot show.", nameof(series));
        }
    }

    private static void Save(string path, Raster image) => PngWriter.WriteAtomically(path, PngWriter.Encode(image));
}
