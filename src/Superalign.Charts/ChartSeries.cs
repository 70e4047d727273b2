namespace Superalign.Charts;

/// <summary>
/// One data series of an <see cref="XYChart"/>: points with optional intervals in y and in x. Points with a non-finite
/// coordinate are left out.
/// </summary>
/// <param name="Name">The name in the legend.</param>
/// <param name="X">The x coordinates (category positions 0, 1, … on a category axis).</param>
/// <param name="Y">The y coordinates, one per x.</param>
public sealed record ChartSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y)
{
    /// <summary>An interval per point in y (<see cref="ChartInterval.None"/> for none), or null for no intervals.</summary>
    public IReadOnlyList<ChartInterval>? YIntervals { get; init; }

    /// <summary>An interval per point in x (<see cref="ChartInterval.None"/> for none), or null for no intervals.</summary>
    public IReadOnlyList<ChartInterval>? XIntervals { get; init; }

    /// <summary>Whether any point has an interval that will be drawn.</summary>
    public bool HasIntervals => (YIntervals?.Any(i => i.Exists) ?? false) || (XIntervals?.Any(i => i.Exists) ?? false);
}
