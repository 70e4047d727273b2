using ScottPlot;
using ScottPlot.TickGenerators;

namespace Superalign.Charts;

/// <summary>
/// ScottPlot's automatic numeric ticks, major ticks only, without those outside the axis's <see cref="ValueRange"/>:
/// a [0, 1] axis whose view reaches a little past 1 (room for markers and labels) shows no tick at 1.1. With
/// <c>integerTicks</c>, only whole numbers (rounds, steps).
/// </summary>
internal sealed class RangeTickGenerator(ValueRange range, bool integerTicks) : ITickGenerator
{
    private readonly NumericAutomatic _inner = new() { IntegerTicksOnly = integerTicks, TickDensity = 0.6 };

    /// <inheritdoc/>
    public Tick[] Ticks { get; set; } = [];

    /// <inheritdoc/>
    public int MaxTickCount
    {
        get => _inner.MaxTickCount;
        set => _inner.MaxTickCount = value;
    }

    /// <inheritdoc/>
    public void Regenerate(CoordinateRange range1, Edge edge, PixelLength size, Paint paint, LabelStyle labelStyle)
    {
        _inner.Regenerate(range1, edge, size, paint, labelStyle);
        double slack = 1e-9 * Math.Max(1, Math.Abs(range1.Span));
        // Integer ticks come back as e.g. 2.0000000000000004: put them on the whole number they label.
        Ticks = _inner.Ticks.Where(t => t.IsMajor && t.Position >= range.Min - slack && t.Position <= range.Max + slack)
            .Select(t => integerTicks ? new Tick(Math.Round(t.Position), t.Label, true) : t).ToArray();
    }
}
