using System.Globalization;

namespace Superalign.Samples;

/// <summary>Tick selection: "nice" values, 1, 2 or 5 times a power of ten.</summary>
internal static class NiceScale
{
    private static readonly int[] Mantissas = [1, 2, 5, 10, 20, 50, 100];

    /// <summary>
    /// The multiples of the smallest nice step (1/2/5 x 10^k) that lie in [<paramref name="min"/>, <paramref name="max"/>]
    /// and number at most <paramref name="maxTicks"/>. Values are rounded to the step's decimals (0.6, not 0.6000000000000001).
    /// </summary>
    public static double[] Ticks(double min, double max, int maxTicks = 8)
    {
        if (!double.IsFinite(min) || !double.IsFinite(max) || !(max > min))
            throw new ArgumentException($"Tick range must be finite and non-empty; got [{min}, {max}].", nameof(max));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTicks, 2);
        int exp = (int)Math.Floor(Math.Log10((max - min) / maxTicks));
        foreach (int m in Mantissas)
        {
            double step = m * Math.Pow(10, exp);
            long first = (long)Math.Ceiling(min / step - 1e-9), last = (long)Math.Floor(max / step + 1e-9);
            if (last - first + 1 > maxTicks) continue;
            int decimals = Decimals(step);
            var ticks = new double[last - first + 1];
            for (long k = first; k <= last; k++) ticks[k - first] = Math.Round(k * step, decimals) + 0.0;
            return ticks;
        }
        throw new InvalidOperationException("unreachable: a step of 100 x 10^k always fits");
    }

    /// <summary>Powers of ten in [min, max] (both positive); with fewer than two, also 2x and 5x them; else linear ticks.</summary>
    public static double[] LogTicks(double min, double max, int maxTicks = 8)
    {
        foreach (int[] mantissas in new[] { new[] { 1 }, [1, 2, 5] })
        {
            var ticks = new List<double>();
            for (int e = (int)Math.Floor(Math.Log10(min)) - 1; e <= (int)Math.Ceiling(Math.Log10(max)); e++)
                foreach (int m in mantissas)
                {
                    double v = double.Parse($"{m}e{e}", CultureInfo.InvariantCulture);
                    if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) ticks.Add(v);
                }
            if (ticks.Count > maxTicks) return ticks.Where((_, i) => i % ((ticks.Count + maxTicks - 1) / maxTicks) == 0).ToArray();
            if (ticks.Count >= 2) return ticks.ToArray();
        }
        return Ticks(min, max, maxTicks);
    }

    /// <summary>Decimals needed to print multiples of <paramref name="step"/> exactly (0 for steps of 1 or more).</summary>
    public static int Decimals(double step) => Math.Clamp(-(int)Math.Floor(Math.Log10(step) + 1e-9), 0, 12);

    /// <summary>A tick label: fixed decimals for linear axes; plain or exponent form for logarithmic ones.</summary>
    public static string Format(double v, int decimals, bool log)
    {
        if (!log) return (Math.Round(v, decimals) + 0.0).ToString("F" + decimals, CultureInfo.InvariantCulture);
        double a = Math.Abs(v);
        return a >= 1e5 || a < 1e-3 ? v.ToString("0.#e0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);
    }
}

/// <summary>One axis: its range (in data units), whether it is logarithmic, and its ticks.</summary>
internal sealed record Axis(double Min, double Max, bool Log, IReadOnlyList<double> Ticks)
{
    /// <summary>Where <paramref name="v"/> falls between Min (0) and Max (1), in log space for a log axis.</summary>
    public double Fraction(double v) => Log
        ? (Math.Log10(v) - Math.Log10(Min)) / (Math.Log10(Max) - Math.Log10(Min))
        : (v - Min) / (Max - Min);

    /// <summary>Tick labels; linear ones share the decimals of the tick step.</summary>
    public IReadOnlyList<string> Labels()
    {
        int decimals = Ticks.Count > 1 ? NiceScale.Decimals(Ticks[1] - Ticks[0]) : 2;
        return Ticks.Select(t => NiceScale.Format(t, decimals, Log)).ToArray();
    }

    /// <summary>
    /// An axis covering the finite values in <paramref name="values"/> (non-positive ones ignored on a log axis), padded by
    /// <paramref name="pad"/> of the span on each side. No values: [0, 1] ([1, 10] on a log axis). All equal: padded
    /// around the value by 10% of it (or 1 when it is 0), by a factor of 2 on a log axis.
    /// </summary>
    public static Axis For(IEnumerable<double> values, bool log, double pad = 0.04)
    {
        double[] v = values.Where(x => double.IsFinite(x) && (!log || x > 0)).ToArray();
        double lo, hi;
        if (log)
        {
            (lo, hi) = v.Length == 0 ? (0.0, 1.0) : (Math.Log10(v.Min()), Math.Log10(v.Max()));
            if (hi == lo) (lo, hi) = (lo - Math.Log10(2), hi + Math.Log10(2));
            double p = (hi - lo) * pad;
            (lo, hi) = (Math.Pow(10, lo - p), Math.Pow(10, hi + p));
            return new Axis(lo, hi, true, NiceScale.LogTicks(lo, hi));
        }
        (lo, hi) = v.Length == 0 ? (0.0, 1.0) : (v.Min(), v.Max());
        if (hi == lo)
        {
            double d = lo == 0 ? 1 : Math.Abs(lo) * 0.1;
            (lo, hi) = (lo - d, hi + d);
        }
        double span = hi - lo;
        return Linear(lo - span * pad, hi + span * pad);
    }

    /// <summary>A linear axis over exactly [min, max] with nice ticks inside it.</summary>
    public static Axis Linear(double min, double max) => new(min, max, false, NiceScale.Ticks(min, max));
}

/// <summary>
/// The plot rectangle in pixels (continuous coordinates, see <see cref="Raster"/>) and the axes it maps: the single place
/// that decides where a data point is drawn, shared by the renderer and the tests.
/// </summary>
internal sealed record PlotArea(double Left, double Top, double Right, double Bottom, Axis X, Axis Y)
{
    public double PixelX(double x) => Left + X.Fraction(x) * (Right - Left);
    public double PixelY(double y) => Bottom - Y.Fraction(y) * (Bottom - Top);
}
