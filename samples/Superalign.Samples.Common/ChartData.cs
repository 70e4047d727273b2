namespace Superalign.Samples;

/// <summary>
/// One data series of a line or scatter chart. Non-finite points are skipped (a line breaks there). The optional bounds
/// are absolute interval ends per point (e.g. a bootstrap 95% interval), drawn as error bars; a non-finite bound draws none.
/// </summary>
/// <param name="Name">The name shown in the legend.</param>
/// <param name="X">The x coordinates.</param>
/// <param name="Y">The y coordinates, one per x.</param>
/// <param name="YLower">Lower ends of the vertical error bars, one per point, or null for none.</param>
/// <param name="YUpper">Upper ends of the vertical error bars, one per point, or null for none.</param>
/// <param name="XLower">Left ends of the horizontal error bars (scatter charts), one per point, or null for none.</param>
/// <param name="XUpper">Right ends of the horizontal error bars (scatter charts), one per point, or null for none.</param>
public sealed record ChartSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y,
    IReadOnlyList<double>? YLower = null, IReadOnlyList<double>? YUpper = null,
    IReadOnlyList<double>? XLower = null, IReadOnlyList<double>? XUpper = null);

/// <summary>One bar of a bar chart, with an optional interval drawn as an error bar.</summary>
/// <param name="Label">The category label under the bar.</param>
/// <param name="Value">The bar's height; a non-finite value draws no bar and prints "n/a".</param>
/// <param name="Lower">The interval's lower end, or null for no error bar.</param>
/// <param name="Upper">The interval's upper end, or null for no error bar.</param>
public sealed record ChartBar(string Label, double Value, double? Lower = null, double? Upper = null);
