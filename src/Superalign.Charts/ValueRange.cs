namespace Superalign.Charts;

/// <summary>
/// The values a metric can take, e.g. [0, 1] for an accuracy or a rate. A chart clips every interval drawn on an axis
/// to that axis's range: a t-interval over seeds of an accuracy near 1 can reach past 1, which the metric cannot.
/// </summary>
/// <param name="Min">The smallest possible value (negative infinity when unbounded below).</param>
/// <param name="Max">The largest possible value (positive infinity when unbounded above).</param>
public readonly record struct ValueRange(double Min, double Max)
{
    /// <summary>[0, 1]: accuracies, competence, conformity, agreement and other rates.</summary>
    public static ValueRange Unit { get; } = new(0, 1);

    /// <summary>No bound (e.g. PGR, which is below 0 when the student is worse than its supervisor).</summary>
    public static ValueRange Unbounded { get; } = new(double.NegativeInfinity, double.PositiveInfinity);

    /// <summary>Whether both ends are finite.</summary>
    public bool IsBounded => double.IsFinite(Min) && double.IsFinite(Max);

    /// <summary><paramref name="value"/> moved into the range (NaN stays NaN).</summary>
    public double Clip(double value) => double.IsNaN(value) ? value : Math.Min(Max, Math.Max(Min, value));

    /// <summary>Throws unless <see cref="Min"/> &lt; <see cref="Max"/> and neither is NaN.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is empty or has a NaN end.</exception>
    public void Validate()
    {
        if (double.IsNaN(Min) || double.IsNaN(Max) || Min >= Max)
            throw new ArgumentOutOfRangeException(nameof(ValueRange), $"A value range needs Min < Max; got [{Min}, {Max}].");
    }
}
