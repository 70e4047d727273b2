namespace Superalign.Charts;

/// <summary>One bar of a <see cref="BarChart"/>.</summary>
/// <param name="Label">The category label under the bar.</param>
/// <param name="Value">The bar's height; a non-finite value draws no bar and prints "n/a".</param>
/// <param name="Interval">The interval drawn as an error bar (<see cref="ChartInterval.None"/> for none).</param>
public sealed record ChartBar(string Label, double Value, ChartInterval Interval)
{
    /// <summary>
    /// The bar's group (e.g. "own student" or "ensemble's student"): bars of one group share a colour, and the groups
    /// are named in the legend. Null: the bar gets a colour of its own and no legend entry.
    /// </summary>
    public string? Group { get; init; }

    /// <summary>A bar without an interval.</summary>
    public ChartBar(string label, double value) : this(label, value, ChartInterval.None) { }
}
