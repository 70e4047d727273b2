namespace Superalign.Charts;

/// <summary>How one axis of a chart is labelled and scaled.</summary>
/// <param name="Label">The axis title.</param>
public sealed record ChartAxis(string Label)
{
    /// <summary>The values the metric on this axis can take; intervals are clipped to it and the view stays near it.</summary>
    public ValueRange Range { get; init; } = ValueRange.Unbounded;

    /// <summary>Ticks only at whole numbers (rounds, steps).</summary>
    public bool IntegerTicks { get; init; }

    /// <summary>
    /// Category labels, drawn at positions 0, 1, …, n − 1 instead of numeric ticks (e.g. model sizes, which are
    /// ordered but not on a meaningful linear scale). Null for a numeric axis.
    /// </summary>
    public IReadOnlyList<string>? Categories { get; init; }

    /// <summary>A value axis of a rate or an accuracy: range [0, 1].</summary>
    public static ChartAxis Rate(string label) => new(label) { Range = ValueRange.Unit };
}
