using System.Buffers.Binary;
using System.Xml.Linq;
using SkiaSharp;
using Xunit;

namespace Superalign.Charts.Tests;

/// <summary>Checks of written chart files, independent of ScottPlot: the PNG header read by hand, the SVG parsed as XML.</summary>
internal static class ChartFiles
{
    private static readonly byte[] PngSignature = [137, 80, 78, 71, 13, 10, 26, 10];

    /// <summary>Width and height from the PNG's IHDR chunk (the first chunk, right after the signature).</summary>
    public static (int Width, int Height) PngSize(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 33, $"{path} is too short for a PNG.");
        Assert.Equal(PngSignature, bytes[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16, 4)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20, 4)));
    }

    /// <summary>The SVG parsed as XML: its root is an svg element of the given size.</summary>
    public static XDocument Svg(string path, int width, int height)
    {
        var svg = XDocument.Load(path);
        Assert.Equal("svg", svg.Root!.Name.LocalName);
        Assert.Equal(width.ToString(System.Globalization.CultureInfo.InvariantCulture), svg.Root.Attribute("width")?.Value);
        Assert.Equal(height.ToString(System.Globalization.CultureInfo.InvariantCulture), svg.Root.Attribute("height")?.Value);
        return svg;
    }

    /// <summary>How many pixels in rows [top, bottom) are dark (text or lines), decoded with SkiaSharp.</summary>
    public static int DarkPixels(string path, int top, int bottom)
    {
        using var bitmap = SKBitmap.Decode(path);
        int dark = 0;
        for (int y = top; y < bottom; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                if (c.Red + c.Green + c.Blue < 3 * 128) dark++;
            }
        return dark;
    }
}
