using Superalign.Experiments.Metrics;

namespace Superalign.Cli.Reports;

/// <summary>How the reports write numbers with intervals (callers run under the invariant culture).</summary>
internal static class ReportFormat
{
    /// <summary>A mean over seeds as a percentage with its interval: <c>81.2 % [79.0 %, 83.4 %]</c>; the mean alone for one seed.</summary>
    public static string Percent(SummaryStatistics? s) => s is null ? "n/a"
        : double.IsNaN(s.Lower) ? $"{s.Mean:P1}" : $"{s.Mean:P1} [{s.Lower:P1}, {s.Upper:P1}]";

    /// <summary>A mean over seeds with two decimals and its interval.</summary>
    public static string Number(SummaryStatistics? s) => s is null ? "n/a"
        : double.IsNaN(s.Lower) ? $"{s.Mean:F2}" : $"{s.Mean:F2} [{s.Lower:F2}, {s.Upper:F2}]";

    /// <summary>A difference in accuracy points with its interval: <c>+1.2% [+0.4%, +2.0%]</c>.</summary>
    public static string Difference(SummaryStatistics? s) => s is null ? "-"
        : double.IsNaN(s.Lower) ? $"{s.Mean:+0.0%;-0.0%;0.0%}" : $"{s.Mean:+0.0%;-0.0%;0.0%} [{s.Lower:+0.0%;-0.0%;0.0%}, {s.Upper:+0.0%;-0.0%;0.0%}]";

    /// <summary>A PGR (or any ratio) with two decimals; NaN (an excluded row) as <c>excl.</c>.</summary>
    public static string Pgr(double value) => double.IsNaN(value) ? "excl." : value.ToString("F2");
}
