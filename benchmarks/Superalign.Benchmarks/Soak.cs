using System.Diagnostics;
using System.Text.Json;
using TorchSharp;

namespace Superalign.Benchmarks;

/// <summary>
/// Leak check over a long run: alternating steps on one fixture, sampling the live-tensor count and the resident set
/// size. Passes when the live-tensor count is flat and the resident memory after warm-up grows by less than the
/// tolerance.
/// </summary>
public static class Soak
{
    /// <summary>One sample.</summary>
    public sealed record Sample(long Step, long LiveTensors, double ResidentMiB, double ManagedMiB);

    public static int Run(string model, string shape, long steps, double tolerancePercent, string? jsonPath)
    {
        torch.set_num_threads(Environment.ProcessorCount);
        using var fixture = StepFixture.For(model, shape);
        long every = Math.Max(1, steps / 20), warmup = Math.Max(1, steps / 5);
        var samples = new List<Sample>();
        var watch = Stopwatch.StartNew();
        Console.WriteLine($"soak: {model} {shape}, {steps} alternating steps, {Environment.ProcessorCount} threads");
        Console.WriteLine($"{"step",8} {"live tensors",13} {"RSS MiB",9} {"managed MiB",12} {"s",7}");
        for (long s = 1; s <= steps; s++)
        {
            fixture.Alternating();
            if (s % every == 0 || s == warmup)
            {
                var sample = Take(s);
                samples.Add(sample);
                Console.WriteLine($"{sample.Step,8} {sample.LiveTensors,13} {sample.ResidentMiB,9:F1} {sample.ManagedMiB,12:F1} {watch.Elapsed.TotalSeconds,7:F1}");
            }
        }
        var after = samples.Where(x => x.Step >= warmup).ToList();
        long liveSpread = after.Max(x => x.LiveTensors) - after.Min(x => x.LiveTensors);
        double rssGrowth = 100 * (after[^1].ResidentMiB - after[0].ResidentMiB) / after[0].ResidentMiB;
        bool ok = liveSpread == 0 && rssGrowth <= tolerancePercent;
        Console.WriteLine($"live tensors from step {warmup}: {after[0].LiveTensors} -> {after[^1].LiveTensors} (spread {liveSpread}); " +
                          $"RSS {after[0].ResidentMiB:F1} -> {after[^1].ResidentMiB:F1} MiB ({rssGrowth:+0.0;-0.0}%, tolerance {tolerancePercent}%; peak {samples.Max(x => x.ResidentMiB):F1}); " +
                          $"{watch.Elapsed.TotalSeconds:F0} s; {(ok ? "PASS" : "FAIL")}");
        if (jsonPath is not null)
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(new { model, shape, steps, threads = Environment.ProcessorCount, liveSpread, rssGrowthPercent = rssGrowth, pass = ok, samples },
                new JsonSerializerOptions { WriteIndented = true }));
        return ok ? 0 : 1;
    }

    private static Sample Take(long step)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return new Sample(step, torch.Tensor.TotalCount, ResidentMiB(), GC.GetTotalMemory(false) / 1048576.0);
    }

    /// <summary>VmRSS from /proc/self/status (Linux), else the working set.</summary>
    private static double ResidentMiB()
    {
        const string path = "/proc/self/status";
        if (File.Exists(path))
            foreach (var line in File.ReadLines(path))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
        using var self = Process.GetCurrentProcess();
        return self.WorkingSet64 / 1048576.0;
    }
}
