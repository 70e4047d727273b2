using System.Diagnostics;
using System.Text.Json;
using Superalign.Data;
using Superalign.Experiments.Metrics;
using Superalign.Objectives.Competence;
using Superalign.Optimization;
using Superalign.Runtime;
using Superalign.Students;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Benchmarks;

/// <summary>
/// The measurement behind <see cref="TorchThreads.Recommended"/>: one competence update of an MLP (64 features →
/// width × 3 hidden layers → 4 classes, batch 64, the library's optimizer) with one thread against all cores, as
/// interleaved pairs in one process (the thread count is switched before each timed step), for several widths. The
/// paired ratio of mean times (all cores / one thread) with a paired bootstrap 95% interval over rounds; above 1 means
/// one thread is faster.
/// </summary>
public static class ThreadCount
{
    /// <summary>One width's comparison.</summary>
    public sealed record Row(int Width, long Parameters, int Threads, int Rounds, double OneThreadMs, double AllCoresMs, double Ratio, double Lower, double Upper);

    /// <summary>Runs every width for about <paramref name="secondsPerWidth"/> seconds; writes <paramref name="jsonPath"/>.</summary>
    public static int Run(double secondsPerWidth, string? jsonPath)
    {
        int cores = Environment.ProcessorCount;
        Console.WriteLine($"thread count: 1 vs {cores} threads, competence update of an MLP 64 → width×3 → 4, batch 64, ~{secondsPerWidth:F0} s per width");
        Console.WriteLine($"{"width",6} {"parameters",11} {"rounds",6} {"1 thread ms",12} {$"{cores} threads ms",12} {"all/one [95% CI]",-22} recommended");
        var rows = new List<Row>();
        foreach (int width in new[] { 64, 256, 512, 1024, 2048 })
        {
            using var student = new MlpClassifier(new MlpClassifierOptions(64, 4, HiddenWidth: width, Depth: 3, Seed: 1), CPU);
            long parameters = student.Parameters().Sum(p => p.numel());
            var generator = new Generator(1);
            var data = SupervisedDataset.ForClassification(randn(new long[] { 4096, 64 }, generator: generator), randint(0, 4, new long[] { 4096 }, generator: generator));
            var batches = data.Batches(64, seed: 1);
            using var optimizer = new AlternatingOptimizer(student, CompetenceObjectives.Create("ce"), null,
                new AlternatingOptimizerOptions { TotalSteps = long.MaxValue / 2, LearningRate = 1e-4, LogEvery = 0, Schedule = AlternationSchedules.CompetenceOnly() });
            void Step(int threads)
            {
                torch.set_num_threads(threads);
                optimizer.Step(batches, null);
            }
            for (int i = 0; i < 3; i++) { Step(1); Step(cores); }
            var one = new List<double>();
            var all = new List<double>();
            var random = new Random(12345);
            var budget = Stopwatch.StartNew();
            while (one.Count < 15 || (budget.Elapsed.TotalSeconds < secondsPerWidth && one.Count < 5000))
            {
                bool oneFirst = random.Next(2) == 0;
                double first = Time(() => Step(oneFirst ? 1 : cores)), second = Time(() => Step(oneFirst ? cores : 1));
                one.Add(oneFirst ? first : second);
                all.Add(oneFirst ? second : first);
            }
            var interval = Bootstrap.Paired(all, one, (x, y) => x.Average() / y.Average(), seed: 1);
            var row = new Row(width, parameters, cores, one.Count, one.Average(), all.Average(), interval.Estimate, interval.Lower, interval.Upper);
            rows.Add(row);
            Console.WriteLine($"{width,6} {parameters,11:N0} {row.Rounds,6} {row.OneThreadMs,12:F3} {row.AllCoresMs,12:F3} {$"{row.Ratio:F2} [{row.Lower:F2}, {row.Upper:F2}]",-22} {TorchThreads.Recommended(parameters, cores)}");
        }
        if (jsonPath is not null) File.WriteAllText(jsonPath, JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static double Time(Action step)
    {
        long start = Stopwatch.GetTimestamp();
        step();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }
}
