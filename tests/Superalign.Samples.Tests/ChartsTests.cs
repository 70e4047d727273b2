using Xunit;

namespace Superalign.Samples.Tests;

public sealed class ChartsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "superalign-charts-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private string PathFor(string name) => Path.Combine(_dir, "nested", name);

    private static (byte, byte, byte, byte) Colour(Rgba c) => (c.R, c.G, c.B, c.A);
    private static (byte, byte, byte, byte) Palette(int i) => Colour(Charts.Palette[i]);
    private static readonly (byte, byte, byte, byte) White = (255, 255, 255, 255);

    private static (int X, int Y) Pixel(PlotArea a, double x, double y) => ((int)Math.Floor(a.PixelX(x)), (int)Math.Floor(a.PixelY(y)));

    private static readonly ChartSeries[] TwoSeries =
    [
        new("a", [0, 1, 2, 3], [0.1, 0.4, 0.35, 0.9]),
        new("b", [0, 1, 2, 3], [0.8, 0.6, 0.2, 0.15]),
    ];

    [Fact]
    public void Line_writes_a_valid_png_of_the_default_size_on_white_creating_the_folder()
    {
        string path = PathFor("line.png");
        Charts.Line(path, "Title", "x", "y", TwoSeries);

        DecodedPng png = DecodedPng.Read(path);
        Assert.Equal((900, 600), (png.Width, png.Height));
        Assert.Equal(White, png[0, 0]);
        Assert.Equal(White, png[899, 599]);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.superalign-tmp"));
    }

    [Fact]
    public void Optional_size_is_honoured_and_an_existing_file_is_replaced()
    {
        string path = PathFor("sized.png");
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.GetDirectoryName(path)!).FullName, "sized.png"), "old");
        Charts.Line(path, "t", "x", "y", TwoSeries, width: 640, height: 480);
        Assert.Equal((640, 480), (DecodedPng.Read(path).Width, DecodedPng.Read(path).Height));
    }

    [Fact]
    public void The_decoder_rejects_a_corrupted_chunk()
    {
        string path = PathFor("corrupt.png");
        Charts.Line(path, "t", "x", "y", TwoSeries);
        byte[] bytes = File.ReadAllBytes(path);
        bytes[20] ^= 0x01; // inside IHDR's data
        Assert.Throws<InvalidDataException>(() => DecodedPng.Decode(bytes));
    }

    [Fact]
    public void Each_series_colour_is_drawn_where_its_data_points_map()
    {
        string path = PathFor("points.png");
        Charts.Line(path, "t", "x", "y", TwoSeries);
        PlotArea area = Charts.RenderXY("t", "x", "y", TwoSeries, null, logX: false, connect: true).Area;
        DecodedPng png = DecodedPng.Read(path);

        for (int s = 0; s < TwoSeries.Length; s++)
            for (int k = 0; k < 4; k++)
            {
                var (x, y) = Pixel(area, TwoSeries[s].X[k], TwoSeries[s].Y[k]);
                Assert.Equal(Palette(s), png[x, y]);
            }
        // The plot area leaves room for labels and lies inside the image.
        Assert.InRange(area.Left, 40, 200);
        Assert.InRange(area.Right, 500, 890);
        Assert.InRange(area.Top, 30, 100);
        Assert.InRange(area.Bottom, 450, 580);
    }

    [Fact]
    public void Vertical_error_bars_are_drawn_above_and_below_the_point_and_not_without_bounds()
    {
        ChartSeries[] with = [new("e", [1, 2], [0.5, 0.6], [0.3, 0.5], [0.7, 0.7])];
        ChartSeries[] without = [new("e", [1, 2], [0.5, 0.6])];
        string pw = PathFor("err.png"), po = PathFor("noerr.png");
        Charts.Line(pw, "t", "x", "y", with);
        Charts.Line(po, "t", "x", "y", without);
        PlotArea area = Charts.RenderXY("t", "x", "y", with, null, false, true).Area;
        DecodedPng a = DecodedPng.Read(pw), b = DecodedPng.Read(po);

        foreach (double y in new[] { 0.36, 0.64 }) // well outside the marker, inside the interval [0.3, 0.7]
        {
            var (px, py) = Pixel(area, 1, y);
            Assert.Equal(Palette(0), a[px, py]);
            Assert.NotEqual(Palette(0), b[px, py]);
        }
        var (cx, cy) = Pixel(area, 1, 0.3);
        Assert.Equal(Palette(0), a[cx - 3, cy]); // the cap is horizontal
    }

    [Fact]
    public void Scatter_draws_markers_and_horizontal_and_vertical_error_bars_per_series()
    {
        ChartSeries[] series =
        [
            new("sft-then-dpo", [0.6], [0.8], [0.7], [0.9], [0.5], [0.7]),
            new("alternating", [0.85], [0.4], [0.35], [0.45], [0.8], [0.9]),
        ];
        string path = PathFor("scatter.png");
        Charts.Scatter(path, "Competence vs conformity", "competence", "conformity", series);
        PlotArea area = Charts.RenderXY("Competence vs conformity", "competence", "conformity", series, null, false, false).Area;
        DecodedPng png = DecodedPng.Read(path);

        Assert.Equal(Palette(0), png[Pixel(area, 0.6, 0.8).X, Pixel(area, 0.6, 0.8).Y]);
        Assert.Equal(Palette(1), png[Pixel(area, 0.85, 0.4).X, Pixel(area, 0.85, 0.4).Y]);
        foreach (var (x, y) in new[] { (0.52, 0.8), (0.68, 0.8), (0.6, 0.72), (0.6, 0.88) })
            Assert.Equal(Palette(0), png[Pixel(area, x, y).X, Pixel(area, x, y).Y]);
        // No line joins the two series' points: the midpoint stays background or grid.
        var mid = Pixel(area, 0.725, 0.6);
        Assert.NotEqual(Palette(0), png[mid.X, mid.Y]);
        Assert.NotEqual(Palette(1), png[mid.X, mid.Y]);
    }

    [Fact]
    public void Bars_are_filled_in_their_colour_with_error_bars_above()
    {
        ChartBar[] bars = [new("judge", 0.6, 0.5, 0.7), new("debate", 0.8, 0.75, 0.9)];
        string path = PathFor("bars.png");
        Charts.Bars(path, "Judge accuracy per protocol", "accuracy", bars, [("chance", 0.5)]);
        PlotArea area = Charts.RenderBars("Judge accuracy per protocol", "accuracy", bars, [("chance", 0.5)]).Area;
        DecodedPng png = DecodedPng.Read(path);

        Assert.Equal(0, area.Y.Min); // bars start at zero
        for (int i = 0; i < bars.Length; i++)
        {
            var inside = Pixel(area, i + 0.5, bars[i].Value * 0.3);
            Assert.Equal(Palette(i), png[inside.X, inside.Y]);
            var above = Pixel(area, i + 0.5, (bars[i].Value + bars[i].Upper!.Value) / 2);
            Assert.NotEqual(White, png[above.X, above.Y]);
            Assert.NotEqual(Palette(i), png[above.X, above.Y]);
            var clear = Pixel(area, i + 0.5, bars[i].Upper!.Value + 0.02); // between the cap and the value label
            Assert.Equal(White, png[clear.X, clear.Y]);
        }
    }

    [Fact]
    public void Log_x_puts_a_decade_midway_between_its_neighbours()
    {
        ChartSeries[] s = [new("s", [1, 10, 100], [1, 2, 3])];
        string path = PathFor("log.png");
        Charts.Line(path, "t", "n", "y", s, logX: true);
        PlotArea area = Charts.RenderXY("t", "n", "y", s, null, logX: true, connect: true).Area;
        Assert.Equal((area.PixelX(1) + area.PixelX(100)) / 2, area.PixelX(10), 6);
        Assert.Equal(new[] { 1.0, 10, 100 }, area.X.Ticks);
        Assert.Equal(Palette(0), DecodedPng.Read(path)[Pixel(area, 10, 2).X, Pixel(area, 10, 2).Y]);
    }

    [Fact]
    public void NaN_points_single_points_and_flat_series_render()
    {
        ChartSeries[] s =
        [
            new("gap", [0, 1, 2, 3], [1, double.NaN, 3, 4], [0.5, 1, double.NaN, 3.5], [1.5, 1, 3.5, 4.5]),
            new("one", [1.5], [2]),
        ];
        Charts.Line(PathFor("nan.png"), "t", "x", "y", s, [("ref", 2.5)]);
        Charts.Scatter(PathFor("flat.png"), "t", "x", "y", [new("flat", [2, 2, 2], [5, 5, 5])]);
        Charts.Bars(PathFor("nanbar.png"), "t", "y", [new("missing", double.NaN), new("zero", 0)]);

        Axis flat = Charts.RenderXY("t", "x", "y", [new("flat", [2, 2], [5, 5])], null, false, false).Area.Y;
        Assert.True(flat.Min < 5 && flat.Max > 5);
        PlotArea area = Charts.RenderXY("t", "x", "y", s, [("ref", 2.5)], false, true).Area;
        Assert.Equal(Palette(1), DecodedPng.Read(PathFor("nan.png"))[Pixel(area, 1.5, 2).X, Pixel(area, 1.5, 2).Y]);
    }

    [Fact]
    public void Bad_inputs_throw_naming_the_parameter()
    {
        string p = PathFor("bad.png");
        void Is(string name, Action a) => Assert.Equal(name, Assert.ThrowsAny<ArgumentException>(a).ParamName);

        Is("series", () => Charts.Line(p, "t", "x", "y", []));
        Is("series", () => Charts.Line(p, "t", "x", "y", null!));
        Is("series", () => Charts.Line(p, "t", "x", "y", [new("s", [1, 2], [1])]));
        Is("series", () => Charts.Line(p, "t", "x", "y", [new("s", [1, 2], [1, 2], YLower: [0])]));
        Is("series", () => Charts.Scatter(p, "t", "x", "y", [new("s", [1], [1], XUpper: [1, 2])]));
        Is("series", () => Charts.Line(p, "t", "x", "y", [null!]));
        Is("series", () => Charts.Line(p, "t", "x", "y", [new("s", [0, 1], [1, 2])], logX: true));
        Is("referenceLines", () => Charts.Line(p, "t", "x", "y", TwoSeries, [("r", double.NaN)]));
        Is("path", () => Charts.Line(" ", "t", "x", "y", TwoSeries));
        Is("bars", () => Charts.Bars(p, "t", "y", []));
        Is("bars", () => Charts.Bars(p, "t", "y", [new(null!, 1)]));
        Is("width", () => Charts.Bars(p, "t", "y", [new("a", 1)], width: 10));
        Assert.False(File.Exists(p));
    }

    [Fact]
    public void Vertical_text_is_turned_a_quarter_turn()
    {
        var r = new Raster(100, 100, Rgba.White);
        r.Text(10, 90, "HHHH", 1, Rgba.Black, vertical: true);
        var ink = Enumerable.Range(0, 100).SelectMany(y => Enumerable.Range(0, 100).Select(x => (x, y)))
            .Where(p => r[p.x, p.y] == Rgba.Black).ToList();
        int w = ink.Max(p => p.x) - ink.Min(p => p.x) + 1, h = ink.Max(p => p.y) - ink.Min(p => p.y) + 1;
        Assert.Equal((7, BitmapFont.Measure("HHHH", 1)), (w, h)); // 'H' fills its 5x7 cell when upright
        Assert.True(ink.Max(p => p.y) < 90);
    }
}

public sealed class NiceScaleTests
{
    [Theory]
    [InlineData(0.0, 1.0, 8, new[] { 0, 0.2, 0.4, 0.6, 0.8, 1 })]      // 0.1 would give 11 ticks
    [InlineData(0.13, 0.87, 8, new[] { 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8 })] // 0.05 gives 15, 0.1 gives 7
    [InlineData(-3.0, 7.0, 8, new[] { -2.0, 0, 2, 4, 6 })]
    [InlineData(0.0, 100.0, 5, new[] { 0.0, 50, 100 })]                 // 10 -> 11, 20 -> 6, 50 -> 3
    [InlineData(0.5, 0.52, 8, new[] { 0.5, 0.505, 0.51, 0.515, 0.52 })]
    [InlineData(-0.04, 1.04, 8, new[] { 0, 0.2, 0.4, 0.6, 0.8, 1 })]    // a padded [0, 1] axis
    [InlineData(1200.0, 9800.0, 8, new[] { 2000.0, 3000, 4000, 5000, 6000, 7000, 8000, 9000 })] // 1000 gives exactly 8
    public void Ticks_are_multiples_of_the_smallest_nice_step_that_fits(double min, double max, int maxTicks, double[] expected)
    {
        double[] ticks = NiceScale.Ticks(min, max, maxTicks);
        Assert.Equal(expected, ticks); // exact: values are rounded to the step's decimals
    }

    [Fact]
    public void Tick_labels_share_the_step_decimals()
    {
        Assert.Equal(new[] { "0.0", "0.2", "0.4", "0.6", "0.8", "1.0" }, Axis.Linear(-0.04, 1.04).Labels());
        Assert.Equal(new[] { "-2", "0", "2", "4", "6" }, Axis.Linear(-3, 7).Labels());
    }

    [Fact]
    public void Log_ticks_are_decades_or_1_2_5_within_a_decade()
    {
        Assert.Equal(new[] { 1.0, 10, 100, 1000 }, NiceScale.LogTicks(0.8, 1500));
        Assert.Equal(new[] { 2.0, 5, 10, 20 }, NiceScale.LogTicks(1.5, 30));
    }

    [Fact]
    public void Axis_ranges_ignore_non_finite_values_and_pad_degenerate_ones()
    {
        Axis empty = Axis.For([double.NaN], log: false, pad: 0);
        Assert.Equal((0.0, 1.0), (empty.Min, empty.Max));
        Axis equal = Axis.For([2.0, 2.0, double.PositiveInfinity], log: false, pad: 0);
        Assert.Equal((1.8, 2.2), (equal.Min, equal.Max), new ToleranceComparer());
        Axis zero = Axis.For([0.0], log: false, pad: 0);
        Assert.Equal((-1.0, 1.0), (zero.Min, zero.Max));
    }

    private sealed class ToleranceComparer : IEqualityComparer<(double, double)>
    {
        public bool Equals((double, double) a, (double, double) b) => Math.Abs(a.Item1 - b.Item1) < 1e-12 && Math.Abs(a.Item2 - b.Item2) < 1e-12;
        public int GetHashCode((double, double) obj) => 0;
    }
}

public sealed class BitmapFontTests
{
    [Fact]
    public void The_glyph_table_covers_printable_ascii_with_distinct_glyphs()
    {
        Assert.Equal(126 - 32 + 1, BitmapFont.Count);
        var seen = new HashSet<string>();
        for (char c = ' '; c <= '~'; c++)
        {
            bool[,] g = BitmapFont.Glyph(c);
            Assert.Equal((BitmapFont.GlyphHeight, BitmapFont.GlyphWidth), (g.GetLength(0), g.GetLength(1)));
            string bits = string.Concat(g.Cast<bool>().Select(b => b ? '#' : '.'));
            Assert.True(c == ' ' || bits.Contains('#'), $"'{c}' has no ink");
            Assert.True(seen.Add(bits), $"'{c}' looks like another glyph");
        }
        Assert.Same(BitmapFont.Glyph('?'), BitmapFont.Glyph('\u00e9')); // outside the table: '?'
    }
}
