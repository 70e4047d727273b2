namespace Superalign.Charts;

/// <summary>The image files written for each chart.</summary>
[Flags]
public enum ChartFormats
{
    /// <summary>A raster image (<c>.png</c>).</summary>
    Png = 1,

    /// <summary>A vector image (<c>.svg</c>).</summary>
    Svg = 2,

    /// <summary>Both.</summary>
    All = Png | Svg,
}
