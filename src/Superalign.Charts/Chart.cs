namespace Superalign.Charts;

/// <summary>
/// The description of one chart: what <see cref="ChartRenderer"/> draws. The description, not the picture, is what
/// the tests check (ranges, categories, intervals, the Pareto front), and the renderer draws exactly it.
/// </summary>
/// <param name="Name">The file name without extension (e.g. <c>pareto</c>).</param>
/// <param name="Title">The title above the plot.</param>
/// <param name="Y">The value axis.</param>
public abstract record Chart(string Name, string Title, ChartAxis Y)
{
    /// <summary>Dashed horizontal lines, named in the legend.</summary>
    public IReadOnlyList<ReferenceLine> ReferenceLines { get; init; } = [];

    /// <summary>Whether any interval will be drawn.</summary>
    public abstract bool HasIntervals { get; }

    /// <summary>Throws if the description cannot be drawn; the message names what is wrong.</summary>
    /// <exception cref="ArgumentException">A name, a series or a bar is missing or inconsistent.</exception>
    public virtual void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name) || Name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            throw new ArgumentException($"A chart needs a file name without path characters; got '{Name}'.", nameof(Name));
        ArgumentNullException.ThrowIfNull(Title);
        ArgumentNullException.ThrowIfNull(Y);
        Y.Range.Validate();
        ArgumentNullException.ThrowIfNull(ReferenceLines);
        foreach (var line in ReferenceLines)
            if (line?.Label is null || !double.IsFinite(line.Y))
                throw new ArgumentException($"Chart '{Name}': a reference line needs a label and a finite Y.", nameof(ReferenceLines));
    }
}

/// <summary>
/// Points in the plane: a line chart (<see cref="Connect"/>: each series joined in order) or a scatter chart, with
/// intervals in x and y clipped to the axes' ranges and, optionally, a Pareto front drawn as a polyline.
/// </summary>
/// <param name="Name">The file name without extension.</param>
/// <param name="Title">The title.</param>
/// <param name="X">The horizontal axis (numeric, integer or categories).</param>
/// <param name="Y">The value axis.</param>
/// <param name="Series">The series, at least one.</param>
public sealed record XYChart(string Name, string Title, ChartAxis X, ChartAxis Y, IReadOnlyList<ChartSeries> Series) : Chart(Name, Title, Y)
{
    /// <summary>Whether each series' points are joined by a line (a line chart) or drawn as markers only (a scatter chart).</summary>
    public bool Connect { get; init; }

    /// <summary>
    /// Horizontal offset between series, so that markers and intervals at the same x (e.g. one round, one model size)
    /// stay apart: series i of n is drawn at x + (i − (n − 1)/2) · <see cref="Dodge"/>. 0 draws every point at its x.
    /// </summary>
    public double Dodge { get; init; }

    /// <summary>The points of a Pareto front, drawn joined in order of x; null for none.</summary>
    public IReadOnlyList<(double X, double Y)>? Front { get; init; }

    /// <summary>The legend name of <see cref="Front"/>.</summary>
    public string FrontLabel { get; init; } = "Pareto front";

    /// <inheritdoc/>
    public override bool HasIntervals => Series.Any(s => s.HasIntervals);

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        ArgumentNullException.ThrowIfNull(X);
        X.Range.Validate();
        if (!double.IsFinite(Dodge) || Dodge < 0) throw new ArgumentOutOfRangeException(nameof(Dodge), $"Chart '{Name}': Dodge must be finite and >= 0; got {Dodge}.");
        if (Series is null || Series.Count == 0) throw new ArgumentException($"Chart '{Name}' needs at least one series.", nameof(Series));
        foreach (var s in Series)
        {
            if (s?.Name is null || s.X is null || s.Y is null) throw new ArgumentException($"Chart '{Name}': a series needs a name, X and Y.", nameof(Series));
            if (s.X.Count != s.Y.Count) throw new ArgumentException($"Chart '{Name}', series '{s.Name}': {s.X.Count} X values but {s.Y.Count} Y values.", nameof(Series));
            if (s.YIntervals is { } yi && yi.Count != s.X.Count) throw new ArgumentException($"Chart '{Name}', series '{s.Name}': {s.X.Count} points but {yi.Count} y intervals.", nameof(Series));
            if (s.XIntervals is { } xi && xi.Count != s.X.Count) throw new ArgumentException($"Chart '{Name}', series '{s.Name}': {s.X.Count} points but {xi.Count} x intervals.", nameof(Series));
        }
    }
}

/// <summary>Vertical bars from zero, one per category, each with an optional interval clipped to the value axis's range.</summary>
/// <param name="Name">The file name without extension.</param>
/// <param name="Title">The title.</param>
/// <param name="Y">The value axis.</param>
/// <param name="Bars">The bars, left to right, at least one.</param>
public sealed record BarChart(string Name, string Title, ChartAxis Y, IReadOnlyList<ChartBar> Bars) : Chart(Name, Title, Y)
{
    /// <inheritdoc/>
    public override bool HasIntervals => Bars.Any(b => double.IsFinite(b.Value) && b.Interval.Exists);

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (Bars is null || Bars.Count == 0) throw new ArgumentException($"Chart '{Name}' needs at least one bar.", nameof(Bars));
        if (Bars.Any(b => b?.Label is null)) throw new ArgumentException($"Chart '{Name}': every bar needs a label.", nameof(Bars));
    }
}
