using System.Globalization;
using Superalign.Experiments.Metrics;

namespace Superalign.Cli.Reports.Markdown;

/// <summary>
/// How the markdown tables write numbers (invariant culture, whatever the current one): percentages with one decimal,
/// intervals in points, signed differences with a true minus sign (−), as docs/results.md has them.
/// </summary>
internal static class MarkdownFormat
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>A fraction as a percentage: <c>53.1%</c>; NaN as <c>–</c>.</summary>
    public static string Percent(double fraction) => double.IsNaN(fraction) ? "–" : (100 * fraction).ToString("0.0", Invariant) + "%";

    /// <summary>An interval of fractions in points: <c>[52.4, 53.9]</c>; <c>–</c> without one (one seed).</summary>
    public static string Interval(double lower, double upper) =>
        double.IsNaN(lower) || double.IsNaN(upper) ? "–" : $"[{Number(100 * lower, 1)}, {Number(100 * upper, 1)}]";

    /// <summary>An interval of differences of fractions in signed points: <c>[+42.3, +46.1]</c>; <c>–</c> without one.</summary>
    public static string SignedInterval(double lower, double upper) =>
        double.IsNaN(lower) || double.IsNaN(upper) ? "–" : $"[{Signed(100 * lower, 1)}, {Signed(100 * upper, 1)}]";

    /// <summary>A mean over seeds with its interval: <c>53.1% [52.4, 53.9]</c>; <c>–</c> for none.</summary>
    public static string PercentWithInterval(SummaryStatistics? s) => s is null ? "–"
        : double.IsNaN(s.Lower) ? Percent(s.Mean) : $"{Percent(s.Mean)} {Interval(s.Lower, s.Upper)}";

    /// <summary>A difference of fractions in points with its interval: <c>+2.7 [+2.5, +2.9]</c>; <c>–</c> for none.</summary>
    public static string Points(SummaryStatistics? s) => s is null ? "–"
        : double.IsNaN(s.Lower) ? Signed(100 * s.Mean, 1) : $"{Signed(100 * s.Mean, 1)} [{Signed(100 * s.Lower, 1)}, {Signed(100 * s.Upper, 1)}]";

    /// <summary>A ratio (PGR, diversity) with two decimals and its interval: <c>0.34 [0.30, 0.37]</c>; <c>–</c> for none.</summary>
    public static string Ratio(SummaryStatistics? s) => s is null ? "–"
        : double.IsNaN(s.Lower) ? Number(s.Mean, 2) : $"{Number(s.Mean, 2)} [{Number(s.Lower, 2)}, {Number(s.Upper, 2)}]";

    /// <summary>A number with <paramref name="decimals"/> decimals, negative with a true minus sign.</summary>
    public static string Number(double value, int decimals) =>
        double.IsNaN(value) ? "–" : Minus(value.ToString("F" + decimals.ToString(Invariant), Invariant));

    /// <summary>A signed number: <c>+2.7</c>, <c>−0.4</c>, <c>0.0</c>.</summary>
    public static string Signed(double value, int decimals)
    {
        if (double.IsNaN(value)) return "–";
        // A value that rounds to zero is 0.0, not −0.0 or +0.0.
        string text = Number(Math.Round(value, decimals) == 0 ? 0 : value, decimals);
        return text.StartsWith('−') || text.TrimStart('0', '.') == "" ? text : "+" + text;
    }

    /// <summary>An integer with thousands separators: <c>3,000</c>.</summary>
    public static string Count(int value) => value.ToString("N0", Invariant);

    private static string Minus(string text) => text.StartsWith('-') ? "−" + text[1..] : text;

    /// <summary>Writes a markdown table: the header row, the separator and one row per entry of <paramref name="rows"/>.</summary>
    public static void Table(TextWriter output, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        output.WriteLine("| " + string.Join(" | ", header) + " |");
        output.WriteLine("|" + string.Concat(header.Select(_ => "---|")));
        foreach (var row in rows)
        {
            if (row.Count != header.Count) throw new ArgumentException($"A row has {row.Count} cells; the header has {header.Count}.", nameof(rows));
            output.WriteLine("| " + string.Join(" | ", row) + " |");
        }
    }
}
