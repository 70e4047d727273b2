namespace Superalign.Samples;

/// <summary>An 8-bit RGBA colour.</summary>
internal readonly record struct Rgba(byte R, byte G, byte B, byte A = 255)
{
    public static readonly Rgba White = new(255, 255, 255);
    public static readonly Rgba Black = new(0, 0, 0);

    /// <summary>Parses "#RRGGBB".</summary>
    public static Rgba Hex(string hex) => new(
        Convert.ToByte(hex.Substring(1, 2), 16), Convert.ToByte(hex.Substring(3, 2), 16), Convert.ToByte(hex.Substring(5, 2), 16));
}

/// <summary>
/// An RGBA raster with the few primitives charts need. Coordinates are continuous: pixel (i, j) covers
/// [i, i+1) x [j, j+1) and its centre is (i + 0.5, j + 0.5). Shapes are anti-aliased by coverage estimated from the
/// distance of the pixel centre to the shape's edge, so a pixel whose centre lies half a pixel inside gets the exact colour.
/// Everything is clipped to <see cref="Clip"/> (the whole image by default).
/// </summary>
internal sealed class Raster
{
    public Raster(int width, int height, Rgba background)
    {
        Width = width;
        Height = height;
        Pixels = new byte[checked(width * height * 4)];
        for (int i = 0; i < Pixels.Length; i += 4)
            (Pixels[i], Pixels[i + 1], Pixels[i + 2], Pixels[i + 3]) = (background.R, background.G, background.B, background.A);
        ResetClip();
    }

    public int Width { get; }
    public int Height { get; }
    /// <summary>Row-major RGBA bytes, 4 per pixel.</summary>
    public byte[] Pixels { get; }
    /// <summary>The pixel rectangle drawing is limited to: [X0, X1) x [Y0, Y1).</summary>
    public (int X0, int Y0, int X1, int Y1) Clip { get; set; }

    public void ResetClip() => Clip = (0, 0, Width, Height);

    public Rgba this[int x, int y]
    {
        get { int i = (y * Width + x) * 4; return new Rgba(Pixels[i], Pixels[i + 1], Pixels[i + 2], Pixels[i + 3]); }
    }

    /// <summary>Paints <paramref name="c"/> over pixel (x, y) with the given coverage in [0, 1].</summary>
    public void Blend(int x, int y, Rgba c, double coverage)
    {
        if (x < Clip.X0 || y < Clip.Y0 || x >= Clip.X1 || y >= Clip.Y1 || coverage <= 0) return;
        double a = Math.Min(1, coverage) * c.A / 255.0;
        int i = (y * Width + x) * 4;
        Pixels[i] = Mix(Pixels[i], c.R, a);
        Pixels[i + 1] = Mix(Pixels[i + 1], c.G, a);
        Pixels[i + 2] = Mix(Pixels[i + 2], c.B, a);
        Pixels[i + 3] = (byte)Math.Round(255 * (a + Pixels[i + 3] / 255.0 * (1 - a)));
    }

    private static byte Mix(byte dst, byte src, double a) => (byte)Math.Round(dst + (src - dst) * a);

    /// <summary>Fills the pixel rectangle [x0, x1) x [y0, y1) (no anti-aliasing).</summary>
    public void FillRect(int x0, int y0, int x1, int y1, Rgba c)
    {
        for (int y = Math.Max(y0, Clip.Y0); y < Math.Min(y1, Clip.Y1); y++)
            for (int x = Math.Max(x0, Clip.X0); x < Math.Min(x1, Clip.X1); x++)
                Blend(x, y, c, 1);
    }

    /// <summary>Outlines the pixel rectangle [x0, x1) x [y0, y1) with a one-pixel border inside it.</summary>
    public void StrokeRect(int x0, int y0, int x1, int y1, Rgba c)
    {
        FillRect(x0, y0, x1, y0 + 1, c);
        FillRect(x0, y1 - 1, x1, y1, c);
        FillRect(x0, y0, x0 + 1, y1, c);
        FillRect(x1 - 1, y0, x1, y1, c);
    }

    /// <summary>An anti-aliased segment of the given thickness with round ends.</summary>
    public void Line(double x0, double y0, double x1, double y1, double thickness, Rgba c)
    {
        double h = thickness / 2, dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
        Cover(Math.Min(x0, x1) - h, Math.Min(y0, y1) - h, Math.Max(x0, x1) + h, Math.Max(y0, y1) + h, c, (px, py) =>
        {
            double t = len2 == 0 ? 0 : Math.Clamp(((px - x0) * dx + (py - y0) * dy) / len2, 0, 1);
            double ex = px - (x0 + t * dx), ey = py - (y0 + t * dy);
            return h + 0.5 - Math.Sqrt(ex * ex + ey * ey);
        });
    }

    /// <summary>A dashed segment: <paramref name="pattern"/> alternates dash and gap lengths in pixels.</summary>
    public void DashedLine(double x0, double y0, double x1, double y1, double thickness, Rgba c, IReadOnlyList<double> pattern)
    {
        double len = Math.Sqrt((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0));
        if (len == 0) return;
        double ux = (x1 - x0) / len, uy = (y1 - y0) / len, pos = 0;
        for (int k = 0; pos < len; k++)
        {
            double seg = Math.Max(0.5, pattern[k % pattern.Count]), end = Math.Min(len, pos + seg);
            if (k % 2 == 0) Line(x0 + ux * pos, y0 + uy * pos, x0 + ux * end, y0 + uy * end, thickness, c);
            pos = end;
        }
    }

    /// <summary>An anti-aliased filled disc.</summary>
    public void FillCircle(double cx, double cy, double r, Rgba c) =>
        Cover(cx - r, cy - r, cx + r, cy + r, c, (px, py) => r + 0.5 - Math.Sqrt((px - cx) * (px - cx) + (py - cy) * (py - cy)));

    /// <summary>An anti-aliased filled convex polygon (vertices in either winding order).</summary>
    public void FillConvex(IReadOnlyList<(double X, double Y)> pts, Rgba c)
    {
        double area = 0;
        for (int i = 0; i < pts.Count; i++)
        {
            var (a, b) = (pts[i], pts[(i + 1) % pts.Count]);
            area += a.X * b.Y - b.X * a.Y;
        }
        double sign = area >= 0 ? 1 : -1;
        Cover(pts.Min(p => p.X), pts.Min(p => p.Y), pts.Max(p => p.X), pts.Max(p => p.Y), c, (px, py) =>
        {
            double inside = double.MaxValue;
            for (int i = 0; i < pts.Count; i++)
            {
                var (a, b) = (pts[i], pts[(i + 1) % pts.Count]);
                double ex = b.X - a.X, ey = b.Y - a.Y, n = Math.Sqrt(ex * ex + ey * ey);
                if (n == 0) continue;
                // Signed distance of the pixel centre to the edge's line, positive on the polygon's side.
                inside = Math.Min(inside, sign * (ex * (py - a.Y) - ey * (px - a.X)) / n);
            }
            return inside + 0.5;
        });
    }

    /// <summary>Blends every pixel of the box whose centre's coverage (clamped to [0, 1]) is positive.</summary>
    private void Cover(double minX, double minY, double maxX, double maxY, Rgba c, Func<double, double, double> coverage)
    {
        int x0 = Math.Max(Clip.X0, (int)Math.Floor(minX - 1)), x1 = Math.Min(Clip.X1 - 1, (int)Math.Ceiling(maxX + 1));
        int y0 = Math.Max(Clip.Y0, (int)Math.Floor(minY - 1)), y1 = Math.Min(Clip.Y1 - 1, (int)Math.Ceiling(maxY + 1));
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
                Blend(x, y, c, Math.Clamp(coverage(x + 0.5, y + 0.5), 0, 1));
    }

    /// <summary>
    /// Draws <paramref name="text"/> with the bitmap font magnified <paramref name="scale"/> times; (x, y) is the top-left
    /// corner. With <paramref name="vertical"/> the text is turned 90° counter-clockwise (reads bottom to top) and
    /// (x, y) is then its bottom-left corner.
    /// </summary>
    public void Text(int x, int y, string text, int scale, Rgba c, bool vertical = false)
    {
        for (int k = 0; k < text.Length; k++)
        {
            bool[,] g = BitmapFont.Glyph(text[k]);
            for (int row = 0; row < BitmapFont.GlyphHeight; row++)
                for (int col = 0; col < BitmapFont.GlyphWidth; col++)
                {
                    if (!g[row, col]) continue;
                    int u = (k * BitmapFont.Advance + col) * scale, v = row * scale;
                    if (vertical) FillRect(x + v, y - u - scale, x + v + scale, y - u, c);
                    else FillRect(x + u, y + v, x + u + scale, y + v + scale, c);
                }
        }
    }
}
