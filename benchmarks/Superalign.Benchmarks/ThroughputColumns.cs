using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Superalign.Benchmarks;

/// <summary>
/// Throughput columns for step benchmarks: examples/s, tokens/s, achieved GFLOP/s, and utilisation of the matmul peak
/// measured by <see cref="MatmulPeakBenchmark"/> in the same run (or, when that benchmark was filtered out, measured
/// in the host process just before the summary is printed; marked with <c>*</c>).
/// </summary>
public sealed class ThroughputColumn : IColumn
{
    private readonly Func<StepCost, double, double, string> _value;

    private ThroughputColumn(string id, string header, string legend, Func<StepCost, double, double, string> value)
        => (Id, ColumnName, Legend, _value) = (id, header, legend, value);

    /// <summary>The four columns.</summary>
    public static IColumn[] All { get; } =
    {
        new ThroughputColumn("Examples/s", "Examples/s", "Training examples (sequences) per second", (c, s, _) => $"{c.Examples / s:N0}"),
        new ThroughputColumn("Tokens/s", "Tokens/s", "Forward positions per second (MLP: examples)", (c, s, _) => $"{c.Tokens / s:N0}"),
        new ThroughputColumn("GFLOP/s", "GFLOP/s", "Achieved training GFLOP/s (matmul FLOPs, forward + backward)", (c, s, _) => $"{c.Flops / s / 1e9:N1}"),
        new ThroughputColumn("Peak%", "Peak %", "Achieved GFLOP/s as a share of the measured matmul peak", (c, s, peak) => peak > 0 ? $"{100 * c.Flops / s / 1e9 / peak:N0}%" : "?"),
    };

    public string Id { get; }
    public string ColumnName { get; }
    public string Legend { get; }
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(b => Cost(b) is not null);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var cost = Cost(benchmarkCase);
        var stats = summary[benchmarkCase]?.ResultStatistics;
        if (cost is null || stats is null) return "-";
        return _value(cost, stats.Mean / 1e9, MatmulPeak.GflopsFor(summary));
    }

    /// <summary>The step cost of a case: its class's <see cref="StepModelAttribute"/> and its <c>Shape</c> parameter.</summary>
    public static StepCost? Cost(BenchmarkCase benchmarkCase)
    {
        var model = benchmarkCase.Descriptor.Type.GetCustomAttribute<StepModelAttribute>()?.Model;
        var shape = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Shape")?.Value as string;
        return model is null || shape is null ? null : StepCost.Of(model, shape);
    }
}

/// <summary>The machine's float32 matmul peak, from the summary's <see cref="MatmulPeakBenchmark"/> or measured here.</summary>
public static class MatmulPeak
{
    private static double? _hostMeasurement;

    /// <summary>GFLOP/s of the matmul peak benchmark in <paramref name="summary"/>, or a host measurement.</summary>
    public static double GflopsFor(Summary summary)
    {
        var peak = summary.BenchmarksCases.FirstOrDefault(b => b.Descriptor.Type == typeof(MatmulPeakBenchmark));
        if (peak is not null && summary[peak]?.ResultStatistics is { } stats)
            return MatmulPeakBenchmark.FlopsPerOperation / (stats.Mean / 1e9) / 1e9;
        return _hostMeasurement ??= MatmulPeakBenchmark.MeasureInProcess();
    }
}
