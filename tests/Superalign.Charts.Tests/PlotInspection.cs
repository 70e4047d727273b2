using ScottPlot;
using ScottPlot.Plottables;

namespace Superalign.Charts.Tests;

/// <summary>What a built ScottPlot plot draws: interval ends, tick labels, the series' points.</summary>
internal static class PlotInspection
{
    /// <summary>Every vertical interval drawn, as (x, lower end, upper end).</summary>
    public static IReadOnlyList<(double X, double Lower, double Upper)> VerticalIntervals(Plot plot) =>
        plot.GetPlottables<ErrorBar>().Where(e => e.YErrorPositive is not null)
            .SelectMany(e => Enumerable.Range(0, e.Ys.Count).Select(k => (e.Xs[k], e.Ys[k] - e.YErrorNegative![k], e.Ys[k] + e.YErrorPositive![k])))
            .ToList();

    /// <summary>Every horizontal interval drawn, as (y, left end, right end).</summary>
    public static IReadOnlyList<(double Y, double Lower, double Upper)> HorizontalIntervals(Plot plot) =>
        plot.GetPlottables<ErrorBar>().Where(e => e.XErrorPositive is not null)
            .SelectMany(e => Enumerable.Range(0, e.Xs.Count).Select(k => (e.Ys[k], e.Xs[k] - e.XErrorNegative![k], e.Xs[k] + e.XErrorPositive![k])))
            .ToList();

    /// <summary>The plot rendered at <paramref name="width"/>×<paramref name="height"/>, so that its tick generators have run.</summary>
    public static Plot Rendered(Plot plot, int width = 900, int height = 600)
    {
        plot.RenderInMemory(width, height);
        return plot;
    }

    /// <summary>The labelled (major) ticks of an axis after rendering.</summary>
    public static IReadOnlyList<Tick> MajorTicks(IAxis axis) => axis.TickGenerator.Ticks.Where(t => t.IsMajor).ToList();

    /// <summary>The scatter drawn with legend name <paramref name="name"/>, as points.</summary>
    public static IReadOnlyList<(double X, double Y)> Points(Plot plot, string name) =>
        plot.GetPlottables<Scatter>().Single(s => s.LegendText == name).Data.GetScatterPoints().Select(c => (c.X, c.Y)).ToList();
}
