namespace Superalign.Charts;

/// <summary>
/// An interval around one value (e.g. a 95% confidence interval over seeds), as absolute ends. An interval with a
/// non-finite end is absent (e.g. the t-interval of a single seed) and is not drawn.
/// </summary>
/// <param name="Lower">The lower end.</param>
/// <param name="Upper">The upper end.</param>
public readonly record struct ChartInterval(double Lower, double Upper)
{
    /// <summary>No interval.</summary>
    public static ChartInterval None { get; } = new(double.NaN, double.NaN);

    /// <summary>Whether both ends are finite, so the interval is drawn.</summary>
    public bool Exists => double.IsFinite(Lower) && double.IsFinite(Upper);

    /// <summary>The interval with both ends clipped to <paramref name="range"/>.</summary>
    public ChartInterval ClippedTo(ValueRange range) => new(range.Clip(Lower), range.Clip(Upper));
}
