namespace Superalign.Experiments.Metrics;

/// <summary>
/// Correctly rounded sums (Shewchuk's algorithm, as in Python's <c>math.fsum</c>): the result is the exact sum of the
/// values rounded once, so it does not depend on their order. Two samples holding the same values in different
/// orders get bitwise equal sums and means, which a running or left-to-right sum does not guarantee.
/// </summary>
internal static class ExactSum
{
    /// <summary>The correctly rounded sum of <paramref name="values"/> (finite, and small enough not to overflow).</summary>
    public static double Of(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        // Non-overlapping partial sums whose exact total is the exact sum so far, in increasing magnitude.
        var partials = new List<double>(4);
        for (int k = 0; k < values.Count; k++)
        {
            double x = values[k];
            int i = 0;
            for (int j = 0; j < partials.Count; j++)
            {
                double y = partials[j];
                if (Math.Abs(x) < Math.Abs(y)) (x, y) = (y, x);
                double high = x + y;
                double low = y - (high - x);
                if (low != 0) partials[i++] = low;
                x = high;
            }
            partials.RemoveRange(i, partials.Count - i);
            partials.Add(x);
        }
        int n = partials.Count;
        if (n == 0) return 0;
        double hi = partials[--n], lo = 0;
        // Add from the top until the sum becomes inexact.
        while (n > 0)
        {
            double x = hi, y = partials[--n];
            hi = x + y;
            lo = y - (hi - x);
            if (lo != 0) break;
        }
        // Round half to even across several partials: when the rest has the sign of lo, lo is not an exact half.
        if (n > 0 && ((lo < 0 && partials[n - 1] < 0) || (lo > 0 && partials[n - 1] > 0)))
        {
            double y = lo * 2, x = hi + y;
            if (y == x - hi) hi = x;
        }
        return hi;
    }

    /// <summary>The correctly rounded sum divided by the count (at least one value).</summary>
    public static double Mean(IReadOnlyList<double> values) => Of(values) / values.Count;
}
